//! Indexing, generation and selection kernels (plan/index.rs) against the CPU ops, over the
//! dtypes they take, with sizes straddling the 256-thread block. All results are exact:
//! data movement, integers, and float scans / scatters in the CPU op's order.

use crate::common::*;
use smelt_core::{f16, DType, Tensor};
use smelt_ir::Attr;

/// Random values of `dt` in [lo, hi) (integers truncated, bool: v > 0).
pub(crate) fn typed(rng: &mut Rng, shape: &[usize], dt: DType, lo: f32, hi: f32) -> Tensor {
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|_| lo + (hi - lo) * rng.next()).collect();
    let s = shape.to_vec();
    match dt {
        DType::F32 => Tensor::from_vec(s, v),
        DType::F64 => Tensor::from_vec(s, v.iter().map(|&x| x as f64).collect::<Vec<_>>()),
        DType::F16 => Tensor::from_vec(s, v.iter().map(|&x| f16::from_f32(x)).collect::<Vec<_>>()),
        DType::I32 => Tensor::from_vec(s, v.iter().map(|&x| x as i32).collect::<Vec<_>>()),
        DType::I64 => Tensor::from_vec(s, v.iter().map(|&x| x as i64).collect::<Vec<_>>()),
        DType::U8 => Tensor::from_vec(s, v.iter().map(|&x| x.abs() as u8).collect::<Vec<_>>()),
        DType::Bool => Tensor::from_vec(s, v.iter().map(|&x| x > 0.0).collect::<Vec<_>>()),
        d => panic!("no random {d}"),
    }
    .unwrap()
}

fn scalar_of(dt: DType, v: f64) -> Tensor {
    match dt {
        DType::F32 => Tensor::scalar(v as f32),
        DType::F64 => Tensor::scalar(v),
        DType::F16 => Tensor::scalar(f16::from_f64(v)),
        DType::I32 => Tensor::scalar(v as i32),
        DType::I64 => Tensor::scalar(v as i64),
        DType::BF16 => Tensor::scalar(smelt_core::bf16::from_f64(v)),
        d => panic!("no scalar {d}"),
    }
}

const NUMERIC: [DType; 5] = [DType::F32, DType::F64, DType::F16, DType::I32, DType::I64];
const MOVED: [DType; 5] = [DType::F32, DType::I64, DType::F16, DType::Bool, DType::U8];

#[test]
fn range_matches_cpu() {
    if !gpu_or_skip("range_matches_cpu") {
        return;
    }
    for dt in NUMERIC.into_iter().chain([DType::BF16]) {
        let int = matches!(dt, DType::I32 | DType::I64);
        let cases: &[(f64, f64, f64)] = if int {
            &[
                (-7.0, 250.0, 1.0),
                (300.0, -4000.0, -1.0),
                (5.0, 5.0, 1.0),
                (3.0, 30.0, 7.0),
            ]
        } else {
            &[
                (0.5, 96.0, 0.37),
                (2.0, -30.0, -0.125),
                (1.0, 1.0, 1.0),
                (0.0, 1.0, 0.25),
            ]
        };
        for &(a, b, c) in cases {
            let (g, f) = one(
                "Range",
                vec![
                    In::Const(scalar_of(dt, a)),
                    In::Const(scalar_of(dt, b)),
                    In::Const(scalar_of(dt, c)),
                ],
                attrs(&[]),
            );
            check(&format!("Range {dt} {a} {b} {c}"), &g, f, EXACT);
        }
    }
}

#[test]
fn trilu_eyelike_constant_of_shape_match_cpu() {
    if !gpu_or_skip("trilu_eyelike_constant_of_shape_match_cpu") {
        return;
    }
    let mut rng = Rng::new(60);
    for dt in MOVED {
        let x = typed(&mut rng, &[2, 33, 257], dt, -9.0, 9.0);
        for k in [-40i64, -1, 0, 5, 300] {
            for upper in [0, 1] {
                let (g, f) = one(
                    "Trilu",
                    vec![In::Feed(x.clone()), In::Const(Tensor::scalar(k))],
                    attrs(&[("upper", Attr::Int(upper))]),
                );
                check(&format!("Trilu {dt} k {k} upper {upper}"), &g, f, EXACT);
            }
        }
    }
    let x = rng.tensor(&[257, 31], -1.0, 1.0);
    let (g, f) = one("Trilu", vec![In::Feed(x.clone())], attrs(&[]));
    check("Trilu default", &g, f, EXACT);
    for (dtype, k) in [
        (None, 0i64),
        (Some(7i64), -3),
        (Some(9), 100),
        (Some(11), 2),
    ] {
        let mut a = vec![("k", Attr::Int(k))];
        if let Some(d) = dtype {
            a.push(("dtype", Attr::Int(d)));
        }
        let (g, f) = one("EyeLike", vec![In::Feed(x.clone())], attrs(&a));
        check(&format!("EyeLike {dtype:?} k {k}"), &g, f, EXACT);
    }
    let values = [
        Tensor::from_vec(vec![1], vec![1.5f32]).unwrap(),
        Tensor::from_vec(vec![1], vec![-7i64]).unwrap(),
        Tensor::from_vec(vec![1], vec![true]).unwrap(),
        Tensor::from_vec(vec![1], vec![f16::from_f32(0.25)]).unwrap(),
    ];
    for v in values {
        for shape in [vec![3i64, 257], vec![4099], vec![0, 5]] {
            let (g, f) = one(
                "ConstantOfShape",
                vec![In::Const(ints(&shape))],
                attrs(&[("value", Attr::Tensor(v.clone()))]),
            );
            check(
                &format!("ConstantOfShape {} {shape:?}", v.dtype()),
                &g,
                f,
                EXACT,
            );
        }
    }
}

/// Random indices into a dim of `dim` (negative ones too).
fn indices(rng: &mut Rng, shape: &[usize], dim: usize) -> Tensor {
    let n: usize = shape.iter().product();
    let v: Vec<i64> = (0..n)
        .map(|_| (rng.next() * 2.0 * dim as f32) as i64 - dim as i64)
        .map(|i| i.clamp(-(dim as i64), dim as i64 - 1))
        .collect();
    Tensor::from_vec(shape.to_vec(), v).unwrap()
}

#[test]
fn gather_elements_tile_one_hot_match_cpu() {
    if !gpu_or_skip("gather_elements_tile_one_hot_match_cpu") {
        return;
    }
    let mut rng = Rng::new(61);
    for dt in MOVED {
        let x = typed(&mut rng, &[33, 257], dt, -9.0, 9.0);
        for (axis, ishape) in [(0i64, [40usize, 257]), (1, [20, 300]), (-1, [33, 1])] {
            let dim = if axis == 0 { 33 } else { 257 };
            let (g, f) = one(
                "GatherElements",
                vec![
                    In::Feed(x.clone()),
                    In::Const(indices(&mut rng, &ishape, dim)),
                ],
                attrs(&[("axis", Attr::Int(axis))]),
            );
            check(&format!("GatherElements {dt} axis {axis}"), &g, f, EXACT);
        }
        for (shape, reps) in [
            (vec![3usize, 31], vec![2i64, 9]),
            (vec![257], vec![3]),
            (vec![2, 1, 33], vec![1, 257, 0]),
        ] {
            let (g, f) = one(
                "Tile",
                vec![
                    In::Feed(typed(&mut rng, &shape, dt, -9.0, 9.0)),
                    In::Const(ints(&reps)),
                ],
                attrs(&[]),
            );
            check(&format!("Tile {dt} {shape:?} {reps:?}"), &g, f, EXACT);
        }
    }
    for axis in [-1i64, 0, 1] {
        for vals in [
            Tensor::from_vec(vec![2], vec![0.5f32, 2.0]).unwrap(),
            Tensor::from_vec(vec![2], vec![3i64, -1]).unwrap(),
        ] {
            let (g, f) = one(
                "OneHot",
                vec![
                    In::Feed(indices(&mut rng, &[33, 9], 12)),
                    In::Const(Tensor::scalar(10i64)),
                    In::Const(vals.clone()),
                ],
                attrs(&[("axis", Attr::Int(axis))]),
            );
            check(
                &format!("OneHot {} axis {axis}", vals.dtype()),
                &g,
                f,
                EXACT,
            );
        }
    }
    let (g, f) = one(
        "OneHot",
        vec![
            In::Feed(rng.tensor(&[257], -300.0, 300.0)),
            In::Const(Tensor::scalar(257f32)),
            In::Const(Tensor::from_vec(vec![2], vec![false, true]).unwrap()),
        ],
        attrs(&[]),
    );
    check("OneHot float indices", &g, f, EXACT);
}

#[test]
fn scatters_match_cpu() {
    if !gpu_or_skip("scatters_match_cpu") {
        return;
    }
    let mut rng = Rng::new(62);
    for red in ["none", "add", "mul", "max", "min"] {
        let dts: &[DType] = if red == "none" { &MOVED } else { &NUMERIC };
        for &dt in dts {
            let x = typed(&mut rng, &[33, 257], dt, -3.0, 3.0);
            // few updates (distinct destinations likely) and many (repeats: applied in order)
            for (axis, ishape) in [(1i64, [3usize, 5]), (0, [33, 257]), (-1, [20, 300])] {
                let dim = if axis == 0 { 33 } else { 257 };
                let (g, f) = one(
                    "ScatterElements",
                    vec![
                        In::Feed(x.clone()),
                        In::Const(indices(&mut rng, &ishape, dim)),
                        In::Feed(typed(&mut rng, &ishape, dt, -3.0, 3.0)),
                    ],
                    attrs(&[
                        ("axis", Attr::Int(axis)),
                        ("reduction", Attr::String(red.into())),
                    ]),
                );
                check(
                    &format!("ScatterElements {red} {dt} axis {axis} {ishape:?}"),
                    &g,
                    f,
                    EXACT,
                );
            }
            for nidx in [1usize, 40] {
                let (g, f) = one(
                    "ScatterND",
                    vec![
                        In::Feed(x.clone()),
                        In::Const(indices(&mut rng, &[nidx, 1], 33)),
                        In::Feed(typed(&mut rng, &[nidx, 257], dt, -3.0, 3.0)),
                    ],
                    attrs(&[("reduction", Attr::String(red.into()))]),
                );
                check(&format!("ScatterND {red} {dt} rows {nidx}"), &g, f, EXACT);
            }
            let ix = Tensor::from_vec(vec![2, 2], vec![0i64, 3, -1, 256]).unwrap();
            let (g, f) = one(
                "ScatterND",
                vec![
                    In::Feed(x.clone()),
                    In::Const(ix),
                    In::Feed(typed(&mut rng, &[2], dt, -3.0, 3.0)),
                ],
                attrs(&[("reduction", Attr::String(red.into()))]),
            );
            check(&format!("ScatterND {red} {dt} elements"), &g, f, EXACT);
        }
    }
}

#[test]
fn cumsum_cumprod_hardmax_match_cpu() {
    if !gpu_or_skip("cumsum_cumprod_hardmax_match_cpu") {
        return;
    }
    let mut rng = Rng::new(63);
    for dt in NUMERIC {
        for op in ["CumSum", "CumProd"] {
            let int = matches!(dt, DType::I32 | DType::I64);
            // products stay finite (floats near 1) and small (integers +-1, 2 rarely)
            let x = match (op, int) {
                ("CumProd", false) => typed(&mut rng, &[33, 257], dt, 0.97, 1.03),
                ("CumProd", true) => {
                    let n = 33 * 257;
                    let v: Vec<i64> = (0..n)
                        .map(|_| if rng.next() < 0.5 { -1 } else { 1 })
                        .collect();
                    let t = Tensor::from_vec(vec![33, 257], v).unwrap();
                    if dt == DType::I32 {
                        Tensor::from_vec(
                            vec![33, 257],
                            t.to_i64_vec()
                                .unwrap()
                                .iter()
                                .map(|&v| v as i32)
                                .collect::<Vec<_>>(),
                        )
                        .unwrap()
                    } else {
                        t
                    }
                }
                _ => typed(&mut rng, &[33, 257], dt, -9.0, 9.0),
            };
            for axis in [0i64, 1, -2] {
                for (ex, rev) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                    let (g, f) = one_opset(
                        op,
                        vec![In::Feed(x.clone()), In::Const(Tensor::scalar(axis))],
                        attrs(&[("exclusive", Attr::Int(ex)), ("reverse", Attr::Int(rev))]),
                        26,
                    );
                    check(
                        &format!("{op} {dt} axis {axis} ex {ex} rev {rev}"),
                        &g,
                        f,
                        EXACT,
                    );
                }
            }
        }
    }
    // Hardmax is the softmax family's kernel: f32
    for dt in [DType::F32] {
        for (shape, axis) in [
            (vec![33usize, 257], Some(1i64)),
            (vec![257, 33, 1], Some(1)),
            (vec![4099, 3], None),
            (vec![2, 257], Some(-1)),
        ] {
            let mut a = vec![];
            if let Some(ax) = axis {
                a.push(("axis", Attr::Int(ax)));
            }
            let (g, f) = one(
                "Hardmax",
                vec![In::Feed(typed(&mut rng, &shape, dt, -2.0, 2.0))],
                attrs(&a),
            );
            check(&format!("Hardmax {dt} {shape:?} {axis:?}"), &g, f, EXACT);
        }
    }
}

#[test]
fn dropout_mask_and_resize_axes_match_cpu() {
    if !gpu_or_skip("dropout_mask_and_resize_axes_match_cpu") {
        return;
    }
    let mut rng = Rng::new(64);
    let x = rng.tensor(&[257, 33], -1.0, 1.0);
    let (g, f) = one_n(
        "Dropout",
        vec![
            In::Feed(x.clone()),
            In::Const(Tensor::scalar(0.3f32)),
            In::Const(Tensor::scalar(false)),
        ],
        attrs(&[]),
        13,
        2,
    );
    check("Dropout with mask", &g, f, EXACT);
    let (g, f) = one_n("Dropout", vec![In::Feed(x)], attrs(&[]), 13, 2);
    check("Dropout mask only", &g, f, EXACT);
    let x = rng.tensor(&[1, 2, 33, 31], -1.0, 1.0);
    for mode in ["nearest", "linear"] {
        for axes in [vec![3i64, 2], vec![2, 3], vec![-1]] {
            let sc: Vec<f32> = axes
                .iter()
                .map(|&a| if a == 2 { 0.5 } else { 8.5 })
                .collect();
            let (g, f) = one_opset(
                "Resize",
                vec![
                    In::Feed(x.clone()),
                    In::Absent,
                    In::Const(Tensor::from_vec(vec![sc.len()], sc).unwrap()),
                ],
                attrs(&[
                    ("mode", Attr::String(mode.into())),
                    ("axes", Attr::Ints(axes.clone())),
                ]),
                19,
            );
            let tol = if mode == "nearest" { EXACT } else { SUMS };
            check(&format!("Resize {mode} axes {axes:?}"), &g, f, tol);
        }
        // tf_crop_and_resize: a roi reaching outside the input (extrapolated positions)
        for (axes, roi) in [
            (vec![2i64, 3], vec![-0.2f32, 0.1, 1.1, 0.9]),
            (vec![3], vec![0.25, 0.75]),
        ] {
            let sizes: Vec<i64> = axes
                .iter()
                .map(|&a| if a == 2 { 40 } else { 257 })
                .collect();
            let (g, f) = one_opset(
                "Resize",
                vec![
                    In::Feed(x.clone()),
                    In::Const(Tensor::from_vec(vec![roi.len()], roi.clone()).unwrap()),
                    In::Absent,
                    In::Const(ints(&sizes)),
                ],
                attrs(&[
                    ("mode", Attr::String(mode.into())),
                    ("axes", Attr::Ints(axes.clone())),
                    (
                        "coordinate_transformation_mode",
                        Attr::String("tf_crop_and_resize".into()),
                    ),
                    ("extrapolation_value", Attr::Float(-7.5)),
                ]),
                19,
            );
            let tol = if mode == "nearest" { EXACT } else { SUMS };
            check(
                &format!("Resize {mode} tf_crop_and_resize {axes:?}"),
                &g,
                f,
                tol,
            );
        }
        for policy in ["not_larger", "not_smaller"] {
            let (g, f) = one_opset(
                "Resize",
                vec![
                    In::Feed(x.clone()),
                    In::Absent,
                    In::Absent,
                    In::Const(ints(&[257, 20])),
                ],
                attrs(&[
                    ("mode", Attr::String(mode.into())),
                    ("axes", Attr::Ints(vec![2, 3])),
                    ("keep_aspect_ratio_policy", Attr::String(policy.into())),
                ]),
                19,
            );
            let tol = if mode == "nearest" { EXACT } else { SUMS };
            check(&format!("Resize {mode} {policy}"), &g, f, tol);
        }
    }
}

#[test]
fn gather_nd_compress_center_crop_pad_match_cpu() {
    if !gpu_or_skip("gather_nd_compress_center_crop_pad_match_cpu") {
        return;
    }
    let mut rng = Rng::new(65);
    for dt in MOVED {
        let x = typed(&mut rng, &[3, 33, 257], dt, -9.0, 9.0);
        // tuples of 1 and 2 indices, and batch_dims 1
        let i1 = indices(&mut rng, &[40, 1], 3);
        let mut v = indices(&mut rng, &[300, 1], 3).to_i64_vec().unwrap();
        let w = indices(&mut rng, &[300, 1], 33).to_i64_vec().unwrap();
        let pairs: Vec<i64> = v.drain(..).zip(w).flat_map(|(a, b)| [a, b]).collect();
        let i2 = Tensor::from_vec(vec![300, 2], pairs).unwrap();
        let i3 = indices(&mut rng, &[3, 5, 1], 33);
        for (ix, b) in [(i1, 0i64), (i2, 0), (i3, 1)] {
            let (g, f) = one(
                "GatherND",
                vec![In::Feed(x.clone()), In::Const(ix.clone())],
                attrs(&[("batch_dims", Attr::Int(b))]),
            );
            check(
                &format!("GatherND {dt} {:?} b {b}", ix.shape()),
                &g,
                f,
                EXACT,
            );
        }
        for axis in [None, Some(0i64), Some(1), Some(-1)] {
            let len = match axis {
                None => 300,
                Some(0) => 3,
                Some(1) => 20,
                _ => 257,
            };
            let cond = typed(&mut rng, &[len], DType::Bool, -1.0, 1.0);
            let mut a = vec![];
            if let Some(ax) = axis {
                a.push(("axis", Attr::Int(ax)));
            }
            let (g, f) = one(
                "Compress",
                vec![In::Feed(x.clone()), In::Const(cond)],
                attrs(&a),
            );
            check(&format!("Compress {dt} axis {axis:?}"), &g, f, EXACT);
        }
        for (target, axes) in [
            (vec![2i64, 40, 250], None),
            (vec![300, 10], Some(vec![-1i64, 1])),
            (vec![5], Some(vec![0])),
        ] {
            let mut a = vec![];
            if let Some(ax) = &axes {
                a.push(("axes", Attr::Ints(ax.clone())));
            }
            let (g, f) = one(
                "CenterCropPad",
                vec![In::Feed(x.clone()), In::Const(ints(&target))],
                attrs(&a),
            );
            check(
                &format!("CenterCropPad {dt} {target:?} {axes:?}"),
                &g,
                f,
                EXACT,
            );
        }
    }
}

#[test]
fn topk_and_depth_space_match_cpu() {
    if !gpu_or_skip("topk_and_depth_space_match_cpu") {
        return;
    }
    let mut rng = Rng::new(66);
    for dt in [
        DType::F32,
        DType::F64,
        DType::F16,
        DType::I32,
        DType::I64,
        DType::U8,
    ] {
        // few distinct values: many ties, ordered by index as on the CPU
        let x = typed(&mut rng, &[33, 257], dt, -6.0, 6.0);
        for (axis, k) in [(1i64, 5i64), (-1, 257), (1, 0), (0, 33), (0, 1)] {
            for largest in [0, 1] {
                let (g, f) = one_n(
                    "TopK",
                    vec![In::Feed(x.clone()), In::Const(ints(&[k]))],
                    attrs(&[("axis", Attr::Int(axis)), ("largest", Attr::Int(largest))]),
                    smelt_ops::builder::DEFAULT_OPSET,
                    2,
                );
                check(
                    &format!("TopK {dt} axis {axis} k {k} largest {largest}"),
                    &g,
                    f,
                    EXACT,
                );
            }
        }
    }
    // NaN sorts above every number
    let mut x = rng
        .tensor(&[4099], -1.0, 1.0)
        .as_slice::<f32>()
        .unwrap()
        .to_vec();
    for i in (0..x.len()).step_by(97) {
        x[i] = f32::NAN;
    }
    let x = Tensor::from_vec(vec![4099], x).unwrap();
    for largest in [0, 1] {
        let (g, f) = one_n(
            "TopK",
            vec![In::Feed(x.clone()), In::Const(ints(&[300]))],
            attrs(&[("largest", Attr::Int(largest))]),
            smelt_ops::builder::DEFAULT_OPSET,
            2,
        );
        check(&format!("TopK NaN largest {largest}"), &g, f, EXACT);
    }
    for dt in MOVED {
        let x = typed(&mut rng, &[2, 36, 9, 33], dt, -9.0, 9.0);
        for mode in ["DCR", "CRD"] {
            for b in [1i64, 3] {
                let (g, f) = one(
                    "DepthToSpace",
                    vec![In::Feed(x.clone())],
                    attrs(&[
                        ("blocksize", Attr::Int(b)),
                        ("mode", Attr::String(mode.into())),
                    ]),
                );
                check(&format!("DepthToSpace {dt} {mode} {b}"), &g, f, EXACT);
            }
        }
        let (g, f) = one(
            "SpaceToDepth",
            vec![In::Feed(x.clone())],
            attrs(&[("blocksize", Attr::Int(3))]),
        );
        check(&format!("SpaceToDepth {dt}"), &g, f, EXACT);
    }
}

#[test]
fn tensor_scatter_matches_cpu() {
    if !gpu_or_skip("tensor_scatter_matches_cpu") {
        return;
    }
    let mut rng = Rng::new(67);
    for dt in MOVED {
        let past = typed(&mut rng, &[3, 4, 257, 33], dt, -9.0, 9.0);
        for (mode, axis, upd_len, idx) in [
            ("linear", -2i64, 5usize, vec![0i64, 252, 100]),
            ("circular", -2, 31, vec![250, 3, 256]),
            ("linear", 1, 2, vec![0, 2, 1]),
        ] {
            let mut ushape = vec![3usize, 4, 257, 33];
            let a = (axis.rem_euclid(4)) as usize;
            ushape[a] = upd_len;
            let (g, f) = one_opset(
                "TensorScatter",
                vec![
                    In::Feed(past.clone()),
                    In::Feed(typed(&mut rng, &ushape, dt, -9.0, 9.0)),
                    In::Const(ints(&idx)),
                ],
                attrs(&[
                    ("mode", Attr::String(mode.into())),
                    ("axis", Attr::Int(axis)),
                ]),
                24,
            );
            check(
                &format!("TensorScatter {dt} {mode} axis {axis}"),
                &g,
                f,
                EXACT,
            );
        }
    }
}
