//! The kernels on compressed weights (CompressedMatMul / Conv / Gather, made by lowering)
//! against the reference: the same graph run unlowered, decoding the whole weight to f32 and
//! running the float op. Random codes, scales, zero points and tables, on shapes that
//! straddle parameter blocks and the kernels' decode tiles.

use smelt_core::{DType, Dim, Tensor};
use smelt_cpu::lower::lower;
use smelt_cpu::Plan;
use smelt_ir::{Attr, Attributes, Graph};
use smelt_ops::quant::compressed_matmul::SCRATCH_ELEMS;
use smelt_ops::quant::packed::pack;
use smelt_ops::{GraphBuilder, V};

/// |fused - reference| <= TOL * (1 + max |reference|): the two differ only in summation order.
const TOL: f32 = 2e-5;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * (self.next() as f32 / (1u64 << 31) as f32)
    }
    fn vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.uniform(-1.0, 1.0)).collect()
    }
}

/// How a test weight is compressed.
#[derive(Clone, Copy, Debug)]
enum Scheme {
    /// bits, signed, with zero points
    Linear(u32, bool, bool),
    /// bits
    Lut(u32),
}

/// Adds a decode node for a random weight of `shape` with parameter grid `grid`.
fn weight(
    b: &mut GraphBuilder,
    r: &mut Rng,
    name: &str,
    shape: &[usize],
    grid: &[usize],
    s: Scheme,
) -> V {
    let n: usize = shape.iter().product();
    let cells: usize = grid.iter().product();
    let bits = match s {
        Scheme::Linear(b, ..) | Scheme::Lut(b) => b,
    };
    let codes: Vec<u32> = (0..n).map(|_| (r.next() % (1 << bits)) as u32).collect();
    let packed = pack(codes.into_iter(), bits);
    let nbytes = packed.len();
    let c = b.constant(
        &format!("{name}.codes"),
        Tensor::from_vec(vec![nbytes], packed).unwrap(),
    );
    let ints = |v: &[usize]| Attr::Ints(v.iter().map(|&d| d as i64).collect());
    let mut attrs = Attributes::new()
        .with("shape", ints(shape))
        .with("bits", Attr::Int(bits as i64));
    let (op, inputs) = match s {
        Scheme::Linear(_, signed, zp) => {
            attrs = attrs.with("signed", Attr::Int(signed as i64));
            let sc: Vec<f32> = (0..cells).map(|_| r.uniform(0.01, 0.1)).collect();
            let sv = b.constant(
                &format!("{name}.scale"),
                Tensor::from_vec(grid.to_vec(), sc).unwrap(),
            );
            let mut ins = vec![Some(c), Some(sv)];
            if zp {
                let half = 1i64 << (bits - 1);
                let z: Vec<i8> = (0..cells)
                    .map(|_| (r.next() as i64 % half - half / 2) as i8)
                    .collect();
                ins.push(Some(b.constant(
                    &format!("{name}.zp"),
                    Tensor::from_vec(grid.to_vec(), z).unwrap(),
                )));
            }
            ("LinearDequantize", ins)
        }
        Scheme::Lut(bits) => {
            let mut ls = grid.to_vec();
            ls.push(1 << bits);
            let lut = r.vec(cells << bits);
            let lv = b.constant(&format!("{name}.lut"), Tensor::from_vec(ls, lut).unwrap());
            ("LutToDense", vec![Some(c), Some(lv)])
        }
    };
    b.add_node("", "ai.smelt", op, &inputs, &[name.to_string()], attrs)
        .unwrap()[0]
        .unwrap()
}

fn fixed(s: &[usize]) -> Vec<Dim> {
    s.iter().map(|&d| Dim::Fixed(d)).collect()
}

/// Runs `g` unlowered and lowered on `inputs`; checks that `fused` readers were lowered and
/// every output agrees within TOL.
fn check(g: Graph, inputs: Vec<(String, Tensor)>, fused: usize, what: &str) {
    let reference = Plan::new(&g).run(inputs.clone()).unwrap();
    let (lg, stats) = lower(&g).unwrap();
    assert_eq!(stats.fused, fused, "{what}: readers lowered");
    assert!(
        lg.nodes
            .iter()
            .all(|n| n.op_type != "LinearDequantize" && n.op_type != "LutToDense"),
        "{what}: a decode node is left"
    );
    let got = Plan::new(&lg).run(inputs).unwrap();
    for ((name, r), (_, o)) in reference.iter().zip(&got) {
        assert_eq!(r.shape(), o.shape(), "{what}: {name} shape");
        let (r, o) = (r.as_slice::<f32>().unwrap(), o.as_slice::<f32>().unwrap());
        let scale = 1.0 + r.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let err = r
            .iter()
            .zip(o)
            .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(
            err <= TOL * scale,
            "{what}: {name} max error {err} (scale {scale})"
        );
    }
}

/// Parameter grids for a 2-D `[rows, cols]` weight whose output channels run along `ch`.
fn grids(rows: usize, cols: usize, ch: usize, s: Scheme) -> Vec<Vec<usize>> {
    let dims = [rows, cols];
    let other = 1 - ch;
    let block = [32, 16, 8, 4, 2, 1]
        .into_iter()
        .find(|b| dims[other] % b == 0)
        .unwrap();
    let group = [4, 3, 2, 1]
        .into_iter()
        .find(|g| dims[ch] % g == 0)
        .unwrap();
    let mut per_ch = vec![1, 1];
    per_ch[ch] = dims[ch];
    let mut blocked = per_ch.clone();
    blocked[other] = dims[other] / block;
    let mut grouped = vec![1, 1];
    grouped[ch] = dims[ch] / group;
    match s {
        Scheme::Linear(..) => vec![vec![1, 1], per_ch, blocked],
        Scheme::Lut(_) => vec![vec![1, 1], grouped],
    }
}

const SCHEMES: [Scheme; 6] = [
    Scheme::Linear(8, true, false),
    Scheme::Linear(4, true, true),
    Scheme::Linear(8, false, true),
    Scheme::Lut(1),
    Scheme::Lut(3),
    Scheme::Lut(4),
];

#[test]
fn matmul_on_compressed_weights_matches_reference() {
    let mut r = Rng(1);
    // (K, N): straddling parameter blocks of 32 and the decode tile (SCRATCH_ELEMS / N rows)
    let big_k = SCRATCH_ELEMS / 96 + 37;
    for (k, n) in [(1, 1), (31, 33), (64, 65), (big_k, 96)] {
        for s in SCHEMES {
            for grid in grids(k, n, 1, s) {
                for xs in [vec![1, k], vec![17, k], vec![2, 3, k]] {
                    let mut b = GraphBuilder::new("mm");
                    let x = b.placeholder("x", DType::F32, &fixed(&xs));
                    let w = weight(&mut b, &mut r, "w", &[k, n], &grid, s);
                    let y = b.matmul(x, w).unwrap();
                    b.output(y, "y");
                    let xv = Tensor::from_vec(xs.clone(), r.vec(xs.iter().product())).unwrap();
                    let what = format!("MatMul x{xs:?} w[{k},{n}] {s:?} grid {grid:?}");
                    check(b.build().unwrap(), vec![("x".into(), xv)], 1, &what);
                }
            }
        }
    }
}

#[test]
fn gemm_on_compressed_weights_matches_reference() {
    let mut r = Rng(2);
    let big_n = SCRATCH_ELEMS / 40 + 5;
    for (k, n) in [(33, 31), (40, big_n)] {
        for s in SCHEMES {
            for trans_b in [false, true] {
                let (shape, ch) = if trans_b { ([n, k], 0) } else { ([k, n], 1) };
                for grid in grids(shape[0], shape[1], ch, s) {
                    let mut b = GraphBuilder::new("gemm");
                    let x = b.placeholder("x", DType::F32, &fixed(&[5, k]));
                    let w = weight(&mut b, &mut r, "w", &shape, &grid, s);
                    let c = b.constant("c", Tensor::from_vec(vec![n], r.vec(n)).unwrap());
                    let attrs = Attributes::new()
                        .with("transB", Attr::Int(trans_b as i64))
                        .with("alpha", Attr::Float(0.5))
                        .with("beta", Attr::Float(2.0));
                    let y = b.op("Gemm", &[x, w, c], attrs).unwrap();
                    b.output(y, "y");
                    let xv = Tensor::from_vec(vec![5, k], r.vec(5 * k)).unwrap();
                    let what = format!("Gemm transB={trans_b} w{shape:?} {s:?} grid {grid:?}");
                    check(b.build().unwrap(), vec![("x".into(), xv)], 1, &what);
                }
            }
        }
    }
}

#[test]
fn conv_on_compressed_weights_matches_reference() {
    let mut r = Rng(3);
    // (C, M, group, kernel): plain, grouped, depthwise, and one whose output channels span
    // several decode tiles (SCRATCH_ELEMS / (C*k*k) rows each)
    let tile_c = 64;
    let tile_m = SCRATCH_ELEMS / (tile_c * 9) * 2 + 3;
    for (c, m, group, kk) in [
        (3, 5, 1, 3),
        (4, 6, 2, 3),
        (6, 6, 6, 3),
        (8, 16, 1, 1),
        (tile_c, tile_m, 1, 3),
    ] {
        for s in SCHEMES {
            let cols = c / group * kk * kk;
            for grid2 in grids(m, cols, 0, s) {
                // the 2-D grid [M-cells, cols-cells] as a 4-D one over [M, C/g, k, k]
                let grid = if grid2[1] == 1 {
                    vec![grid2[0], 1, 1, 1]
                } else {
                    vec![grid2[0], c / group, 1, 1]
                };
                let mut b = GraphBuilder::new("conv");
                let (h, wd) = (9, 7);
                let x = b.placeholder("x", DType::F32, &fixed(&[2, c, h, wd]));
                let w = weight(&mut b, &mut r, "w", &[m, c / group, kk, kk], &grid, s);
                let bias = b.constant("b", Tensor::from_vec(vec![m], r.vec(m)).unwrap());
                let attrs = Attributes::new()
                    .with("group", Attr::Int(group as i64))
                    .with("pads", Attr::Ints(vec![1; 4]))
                    .with("strides", Attr::Ints(vec![1, 2]));
                let y = b.op("Conv", &[x, w, bias], attrs).unwrap();
                b.output(y, "y");
                let xv = Tensor::from_vec(vec![2, c, h, wd], r.vec(2 * c * h * wd)).unwrap();
                let what = format!("Conv C{c} M{m} g{group} k{kk} {s:?} grid {grid:?}");
                check(b.build().unwrap(), vec![("x".into(), xv)], 1, &what);
            }
        }
    }
}

#[test]
fn fused_conv_on_compressed_weights_keeps_its_epilogue() {
    // Conv (compressed W) + Add(residual input) + HardSwish, fused then lowered: one
    // CompressedConv applying the residual and the activation, against the graph run as
    // built; one image (decoded per tile) and two (decoded whole)
    let mut r = Rng(11);
    let (c, m, h, wd) = (5, 12, 9, 7);
    for n in [1, 2] {
        let mut b = GraphBuilder::new("fused");
        let x = b.placeholder("x", DType::F32, &fixed(&[n, c, h, wd]));
        let res = b.placeholder("r", DType::F32, &fixed(&[n, m, h, wd]));
        let w = weight(
            &mut b,
            &mut r,
            "w",
            &[m, c, 3, 3],
            &[m, 1, 1, 1],
            Scheme::Linear(8, true, false),
        );
        let bias = b.constant("b", Tensor::from_vec(vec![m], r.vec(m)).unwrap());
        let attrs = Attributes::new().with("pads", Attr::Ints(vec![1; 4]));
        let y = b.op("Conv", &[x, w, bias], attrs).unwrap();
        let y = b.op("Add", &[y, res], Attributes::new()).unwrap();
        let y = b.op("HardSwish", &[y], Attributes::new()).unwrap();
        b.output(y, "y");
        let g = b.build().unwrap();
        let inputs = vec![
            (
                "x".to_string(),
                Tensor::from_vec(vec![n, c, h, wd], r.vec(n * c * h * wd)).unwrap(),
            ),
            (
                "r".to_string(),
                Tensor::from_vec(vec![n, m, h, wd], r.vec(n * m * h * wd)).unwrap(),
            ),
        ];
        let reference = Plan::new(&g).run(inputs.clone()).unwrap();
        let mut fused = g.clone();
        let seen = smelt_cpu::lower::fuse_ops(&mut fused).unwrap();
        assert_eq!(seen[0].outcome, Ok("Conv+Add+HardSwish".to_string()));
        let (lg, stats) = lower(&fused).unwrap();
        assert_eq!(stats.fused, 1);
        let ops: Vec<&str> = lg.nodes.iter().map(|n| n.op_type.as_str()).collect();
        assert_eq!(ops, ["CompressedConv"], "n {n}");
        let got = Plan::new(&lg).run(inputs).unwrap();
        let (want, got) = (
            reference[0].1.as_slice::<f32>().unwrap(),
            got[0].1.as_slice::<f32>().unwrap(),
        );
        let scale = 1.0 + want.iter().fold(0.0f32, |a, v| a.max(v.abs()));
        let err = want
            .iter()
            .zip(got)
            .fold(0.0f32, |a, (x, y)| a.max((x - y).abs()));
        assert!(err <= TOL * scale, "n {n}: max error {err}");
    }
}

#[test]
fn gather_on_compressed_table_matches_reference() {
    let mut r = Rng(4);
    for (v, d) in [(1, 1), (50, 33), (100, 64)] {
        for s in SCHEMES {
            for grid in grids(v, d, 0, s) {
                let mut b = GraphBuilder::new("gather");
                let ids = b.placeholder("ids", DType::I64, &fixed(&[2, 3]));
                let w = weight(&mut b, &mut r, "w", &[v, d], &grid, s);
                let y = b.op("Gather", &[w, ids], Attributes::new()).unwrap();
                b.output(y, "y");
                let iv: Vec<i64> = (0..6)
                    .map(|i| (r.next() % v as u64) as i64 - if i % 2 == 1 { v as i64 } else { 0 })
                    .collect();
                let what = format!("Gather [{v},{d}] {s:?} grid {grid:?}");
                check(
                    b.build().unwrap(),
                    vec![("ids".into(), Tensor::from_vec(vec![2, 3], iv).unwrap())],
                    1,
                    &what,
                );
            }
        }
    }
}

#[test]
fn a_decode_read_by_another_op_stays_for_it() {
    let mut r = Rng(5);
    let mut b = GraphBuilder::new("mixed");
    let x = b.placeholder("x", DType::F32, &fixed(&[8, 8]));
    let w = weight(
        &mut b,
        &mut r,
        "w",
        &[8, 8],
        &[1, 8],
        Scheme::Linear(8, true, false),
    );
    let y = b.matmul(x, w).unwrap();
    let z = b.add(y, w).unwrap();
    b.output(z, "z");
    let g = b.build().unwrap();
    let (lg, stats) = lower(&g).unwrap();
    assert_eq!(stats.fused, 1);
    assert_eq!(stats.removed, 0);
    assert!(lg.nodes.iter().any(|n| n.op_type == "LinearDequantize"));
    let xv = Tensor::from_vec(vec![8, 8], r.vec(64)).unwrap();
    let a = Plan::new(&g).run(vec![("x".into(), xv.clone())]).unwrap();
    let o = Plan::new(&lg).run(vec![("x".into(), xv)]).unwrap();
    let (a, o) = (
        a[0].1.as_slice::<f32>().unwrap(),
        o[0].1.as_slice::<f32>().unwrap(),
    );
    assert!(a.iter().zip(o).all(|(p, q)| (p - q).abs() <= TOL * 10.0));
}

#[test]
fn compressed_kernels_reject_bad_inputs() {
    let mut r = Rng(6);
    let mut b = GraphBuilder::new("bad");
    let ids = b.placeholder("ids", DType::I64, &fixed(&[2]));
    let w = weight(&mut b, &mut r, "w", &[10, 4], &[1, 1], Scheme::Lut(2));
    let y = b.op("Gather", &[w, ids], Attributes::new()).unwrap();
    b.output(y, "y");
    let (lg, _) = lower(&b.build().unwrap()).unwrap();
    let e = Plan::new(&lg)
        .run(vec![(
            "ids".into(),
            Tensor::from_vec(vec![2], vec![3i64, 10]).unwrap(),
        )])
        .unwrap_err()
        .to_string();
    assert!(e.contains("index 10 out of range for 10 rows"), "{e}");
}

#[test]
fn exporter_spellings_of_dequantize_are_fused_too() {
    // Mul(Cast(int8 const -> f32), scale const) and DequantizeLinear(int8 const, scale, axis)
    let mut r = Rng(7);
    for spelling in ["cast_mul", "dequantize_linear"] {
        let (v, d) = (40, 24);
        let mut b = GraphBuilder::new("q");
        let ids = b.placeholder("ids", DType::I64, &fixed(&[3]));
        let x = b.placeholder("x", DType::F32, &fixed(&[5, v]));
        let q: Vec<i8> = (0..v * d).map(|_| (r.next() % 255) as i8).collect();
        let qv = b.constant("q", Tensor::from_vec(vec![v, d], q).unwrap());
        let scales: Vec<f32> = (0..v).map(|_| r.uniform(0.001, 0.01)).collect();
        let w = if spelling == "cast_mul" {
            let s = b.constant("s", Tensor::from_vec(vec![v, 1], scales).unwrap());
            let c = b
                .op("Cast", &[qv], Attributes::new().with("to", Attr::Int(1)))
                .unwrap();
            b.mul(c, s).unwrap()
        } else {
            let s = b.constant("s", Tensor::from_vec(vec![v], scales).unwrap());
            b.op(
                "DequantizeLinear",
                &[qv, s],
                Attributes::new().with("axis", Attr::Int(0)),
            )
            .unwrap()
        };
        let e = b.op("Gather", &[w, ids], Attributes::new()).unwrap();
        let y = b.matmul(x, w).unwrap();
        b.output(e, "e");
        b.output(y, "y");
        let g = b.build().unwrap();
        let inputs = vec![
            (
                "ids".to_string(),
                Tensor::from_vec(vec![3], vec![0i64, 39, -2]).unwrap(),
            ),
            (
                "x".to_string(),
                Tensor::from_vec(vec![5, v], r.vec(5 * v)).unwrap(),
            ),
        ];
        check(g, inputs, 2, spelling);
    }
}
