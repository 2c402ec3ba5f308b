//! Helpers shared by the data-movement ops of this family: strided copies (transpose, slice,
//! expand, tile all reduce to one), index normalisation, ONNX dtype codes, shape inference.

use crate::prelude::*;

/// A tensor of `dtype` (which may be a low-bit type stored in `T`'s buffer) from a Vec.
pub fn mk<T: Elem>(dtype: DType, shape: Vec<usize>, v: Vec<T>) -> Result<Tensor> {
    Tensor::new(dtype, shape, T::into_data(v))
}

/// Row-major copy of the strided view of `src` that starts at element `base` and has shape
/// `shape` with per-dim element strides `strides` (0 broadcasts, negative walks backwards).
/// Every reachable offset is checked up front; an out-of-bounds view is an Err, not a panic.
pub fn strided_copy<T: Clone>(
    src: &[T],
    base: isize,
    shape: &[usize],
    strides: &[isize],
) -> Result<Vec<T>> {
    let n = numel(shape);
    if n == 0 {
        return Ok(Vec::new());
    }
    // bounds of the view
    let (mut lo, mut hi) = (base, base);
    for (&d, &s) in shape.iter().zip(strides) {
        let span = (d as isize - 1) * s;
        if span < 0 {
            lo += span;
        } else {
            hi += span;
        }
    }
    if lo < 0 || hi >= src.len() as isize {
        bail!(
            "strided view [{lo}, {hi}] outside a buffer of {} elements",
            src.len()
        );
    }
    // drop unit dims and merge dims that are contiguous with their inner neighbour
    let mut dims: Vec<(usize, isize)> = Vec::with_capacity(shape.len());
    for (&d, &s) in shape.iter().zip(strides) {
        if d == 1 {
            continue;
        }
        if let Some(last) = dims.last_mut() {
            if last.1 == s * d as isize {
                last.0 *= d;
                last.1 = s;
                continue;
            }
        }
        dims.push((d, s));
    }
    let mut out = Vec::with_capacity(n);
    let Some(&(inner_n, inner_s)) = dims.last() else {
        out.push(src[base as usize].clone());
        return Ok(out);
    };
    let outer = &dims[..dims.len() - 1];
    // 2-D tiled path for transposes whose innermost output dim is strided in the source
    if inner_s != 1 && outer.last().is_some_and(|&(_, s)| s == 1) && inner_n >= 8 {
        let (rows, _) = outer[outer.len() - 1];
        let outer2 = &outer[..outer.len() - 1];
        let mut idx = vec![0usize; outer2.len()];
        let cnt = numel(&outer2.iter().map(|d| d.0).collect::<Vec<_>>());
        let start = out.len();
        out.resize(start + n, src[base as usize].clone());
        let dst = &mut out[start..];
        let mut off = base;
        const B: usize = 32;
        for blk in 0..cnt {
            let d0 = blk * rows * inner_n;
            for r0 in (0..rows).step_by(B) {
                for c0 in (0..inner_n).step_by(B) {
                    for r in r0..(r0 + B).min(rows) {
                        let srow = off + r as isize;
                        let drow = d0 + r * inner_n;
                        for c in c0..(c0 + B).min(inner_n) {
                            dst[drow + c] = src[(srow + c as isize * inner_s) as usize].clone();
                        }
                    }
                }
            }
            // advance the odometer over the remaining outer dims
            let mut k = idx.len();
            while k > 0 {
                k -= 1;
                idx[k] += 1;
                off += outer2[k].1;
                if idx[k] < outer2[k].0 {
                    break;
                }
                off -= outer2[k].1 * outer2[k].0 as isize;
                idx[k] = 0;
            }
        }
        return Ok(out);
    }
    let mut idx = vec![0usize; outer.len()];
    let mut off = base;
    loop {
        let o = off as usize;
        match inner_s {
            1 => out.extend_from_slice(&src[o..o + inner_n]),
            0 => out.extend(std::iter::repeat(src[o].clone()).take(inner_n)),
            s => out.extend((0..inner_n).map(|i| src[(off + i as isize * s) as usize].clone())),
        }
        let mut k = idx.len();
        loop {
            if k == 0 {
                return Ok(out);
            }
            k -= 1;
            idx[k] += 1;
            off += outer[k].1;
            if idx[k] < outer[k].0 {
                break;
            }
            off -= outer[k].1 * outer[k].0 as isize;
            idx[k] = 0;
        }
    }
}

/// Row-major strides as isize.
pub fn istrides(shape: &[usize]) -> Vec<isize> {
    strides(shape).into_iter().map(|s| s as isize).collect()
}

/// Transposes `t` by `perm` (output dim i is input dim perm[i]). `perm` must be a permutation.
pub fn transpose(t: &Tensor, perm: &[usize]) -> Result<Tensor> {
    let r = t.rank();
    ensure!(
        perm.len() == r,
        "perm {perm:?} has {} entries for rank {r}",
        perm.len()
    );
    let mut seen = vec![false; r];
    for &p in perm {
        ensure!(
            p < r && !seen[p],
            "perm {perm:?} is not a permutation of 0..{r}"
        );
        seen[p] = true;
    }
    let st = istrides(t.shape());
    let shape: Vec<usize> = perm.iter().map(|&p| t.shape()[p]).collect();
    let ps: Vec<isize> = perm.iter().map(|&p| st[p]).collect();
    if perm.iter().enumerate().all(|(i, &p)| i == p) {
        return Ok(t.clone());
    }
    dispatch_any!(t.dtype(), T => {
        let v = strided_copy(t.as_slice::<T>()?, 0, &shape, &ps)?;
        mk(t.dtype(), shape, v)
    })
}

/// Wraps a possibly negative index into `0..n`; an Err names the index when out of range.
pub fn wrap_index(i: i64, n: usize, what: &str) -> Result<usize> {
    let w = if i < 0 { i + n as i64 } else { i };
    if w < 0 || w >= n as i64 {
        bail!("{what} index {i} out of range for a dimension of size {n}");
    }
    Ok(w as usize)
}

/// A shape given as an integer tensor: checks every entry is >= 0.
pub fn shape_input(t: &Tensor, what: &str) -> Result<Vec<usize>> {
    ensure!(
        t.rank() <= 1,
        "{what} must be a 1-D tensor, got shape {:?}",
        t.shape()
    );
    t.to_i64_vec()?
        .into_iter()
        .map(|d| {
            if d < 0 {
                Err(Error::invalid(format!("{what} has negative dimension {d}")))
            } else {
                Ok(d as usize)
            }
        })
        .collect()
}

/// Input `i`'s known info during inference.
pub fn in_info<'a>(ctx: &'a InferCtx, i: usize) -> Option<&'a ValueInfo> {
    ctx.inputs.get(i).and_then(|v| v.as_ref())
}

/// Input `i`'s constant value during inference, if known.
pub fn in_const<'a>(ctx: &'a InferCtx, i: usize) -> Option<&'a Tensor> {
    ctx.consts.get(i).and_then(|v| v.as_ref())
}

/// Element-wise arithmetic used by scatter reductions. Integers wrap instead of overflowing.
pub trait Arith: Clone + PartialOrd {
    fn add(&self, o: &Self) -> Self;
    fn mul(&self, o: &Self) -> Self;
}
macro_rules! arith_int {
    ($($t:ty),*) => { $(impl Arith for $t {
        fn add(&self, o: &Self) -> Self { self.wrapping_add(*o) }
        fn mul(&self, o: &Self) -> Self { self.wrapping_mul(*o) }
    })* };
}
macro_rules! arith_float {
    ($($t:ty),*) => { $(impl Arith for $t {
        fn add(&self, o: &Self) -> Self { *self + *o }
        fn mul(&self, o: &Self) -> Self { *self * *o }
    })* };
}
arith_int!(i8, u8, i16, u16, i32, u32, i64, u64);
arith_float!(f32, f64, f16, bf16);
impl Arith for bool {
    fn add(&self, o: &Self) -> Self {
        *self || *o
    }
    fn mul(&self, o: &Self) -> Self {
        *self && *o
    }
}

/// How scattered updates combine with existing values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Reduction {
    None,
    Add,
    Mul,
    Max,
    Min,
}

impl Reduction {
    pub fn parse(s: &str) -> Result<Reduction> {
        Ok(match s {
            "none" => Reduction::None,
            "add" => Reduction::Add,
            "mul" => Reduction::Mul,
            "max" => Reduction::Max,
            "min" => Reduction::Min,
            _ => bail!("unknown reduction '{s}' (expected none, add, mul, max or min)"),
        })
    }
    pub fn apply<T: Arith>(self, dst: &mut T, u: &T) {
        match self {
            Reduction::None => *dst = u.clone(),
            Reduction::Add => *dst = dst.add(u),
            Reduction::Mul => *dst = dst.mul(u),
            Reduction::Max => {
                if *u > *dst {
                    *dst = u.clone()
                }
            }
            Reduction::Min => {
                if *u < *dst {
                    *dst = u.clone()
                }
            }
        }
    }
}

/// Runs `$body` (which yields a `Result`) with `$T` bound to a type implementing [`Arith`]
/// (numeric and bool storage, i4/u4 included); strings and low-bit floats are an Err.
macro_rules! dispatch_arith {
    ($dt:expr, $T:ident => $body:expr) => {
        match $dt {
            DType::Bool => { type $T = bool; $body }
            DType::I4 => { type $T = i8; $body }
            DType::U4 => { type $T = u8; $body }
            d => dispatch_numeric!(d, $T => $body, o => Err(Error::dtype(o, "scatter with reduction"))),
        }
    };
}
pub(crate) use dispatch_arith;

/// Test helper: evaluates an op with no subgraph support.
#[cfg(test)]
pub fn eval_op(op: &dyn Op, inputs: Vec<Tensor>, n_outputs: usize) -> Result<Vec<Tensor>> {
    struct NoSub;
    impl smelt_ir::SubgraphRunner for NoSub {
        fn run(&self, _: &Graph, _: Vec<Tensor>) -> Result<Vec<Tensor>> {
            Err(Error::invalid("no subgraphs in tests"))
        }
    }
    op.eval(
        &EvalCtx {
            n_outputs,
            subgraphs: &NoSub,
        },
        inputs.into_iter().map(Some).collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(src: &[f32], base: isize, shape: &[usize], st: &[isize]) -> Vec<f32> {
        let n = numel(shape);
        (0..n)
            .map(|mut i| {
                let mut off = base;
                for d in (0..shape.len()).rev() {
                    off += (i % shape[d]) as isize * st[d];
                    i /= shape[d];
                }
                src[off as usize]
            })
            .collect()
    }

    #[test]
    fn strided_copy_matches_naive() {
        for &(a, b, c) in &[
            (31usize, 32usize, 3usize),
            (33, 2, 32),
            (1, 33, 31),
            (32, 33, 1),
        ] {
            let shape = [a, b, c];
            let src: Vec<f32> = (0..a * b * c).map(|i| (i as f32 * 0.37).sin()).collect();
            let st = istrides(&shape);
            for perm in [
                [0, 1, 2],
                [2, 1, 0],
                [1, 0, 2],
                [0, 2, 1],
                [2, 0, 1],
                [1, 2, 0],
            ] {
                let sh: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
                let ps: Vec<isize> = perm.iter().map(|&p| st[p]).collect();
                assert_eq!(
                    strided_copy(&src, 0, &sh, &ps).unwrap(),
                    naive(&src, 0, &sh, &ps),
                    "{shape:?} {perm:?}"
                );
            }
            // reversed last dim and a broadcast dim
            let base = (c - 1) as isize;
            let sh = [a, 2, b, c];
            let ps = [st[0], 0, st[1], -1];
            assert_eq!(
                strided_copy(&src, base, &sh, &ps).unwrap(),
                naive(&src, base, &sh, &ps)
            );
        }
    }

    #[test]
    fn strided_copy_rejects_out_of_bounds() {
        let src = [1f32, 2., 3.];
        assert!(strided_copy(&src, 0, &[4], &[1]).is_err());
        assert!(strided_copy(&src, 0, &[2], &[-1]).is_err());
    }
}

#[cfg(test)]
mod infer_tests {
    use super::*;

    fn infer(
        op: &str,
        opset: i64,
        attrs: Attributes,
        ins: Vec<Option<ValueInfo>>,
        consts: Vec<Option<Tensor>>,
        n_out: usize,
    ) -> Vec<ValueInfo> {
        let ctx = OpCtx {
            attrs: &attrs,
            opset,
            n_inputs: ins.len(),
            n_outputs: n_out,
            node_name: "t",
        };
        let o = crate::registry().build("", op, &ctx).unwrap();
        o.infer(&InferCtx {
            inputs: &ins,
            consts: &consts,
            n_outputs: n_out,
        })
        .unwrap()
    }
    fn sym(v: &[&str]) -> Vec<Dim> {
        v.iter()
            .map(|s| {
                s.parse()
                    .map(Dim::Fixed)
                    .unwrap_or_else(|_| Dim::Sym(s.to_string()))
            })
            .collect()
    }
    fn i64s(v: &[i64]) -> Option<Tensor> {
        Some(Tensor::from_vec(vec![v.len()], v.to_vec()).unwrap())
    }

    #[test]
    fn shapes() {
        let x = Some(ValueInfo::new(DType::F32, sym(&["N", "3", "4"])));
        let r = infer(
            "Reshape",
            14,
            Attributes::new(),
            vec![x.clone(), None],
            vec![None, i64s(&[0, -1])],
            1,
        );
        assert_eq!(r[0].shape, Some(vec![Dim::Sym("N".into()), Dim::Unknown]));
        let r = infer(
            "Transpose",
            13,
            Attributes::new().with("perm", Attr::Ints(vec![2, 0, 1])),
            vec![x.clone()],
            vec![None],
            1,
        );
        assert_eq!(r[0].shape, Some(sym(&["4", "N", "3"])));
        let r = infer(
            "Unsqueeze",
            13,
            Attributes::new(),
            vec![x.clone(), None],
            vec![None, i64s(&[-1, 0])],
            1,
        );
        assert_eq!(r[0].shape, Some(sym(&["1", "N", "3", "4", "1"])));
        let r = infer(
            "Squeeze",
            11,
            Attributes::new().with("axes", Attr::Ints(vec![0])),
            vec![Some(ValueInfo::fixed(DType::F32, &[1, 3]))],
            vec![None],
            1,
        );
        assert_eq!(r[0].shape, Some(sym(&["3"])));
        let r = infer(
            "Concat",
            13,
            Attributes::new().with("axis", Attr::Int(-1)),
            vec![x.clone(), x.clone()],
            vec![None, None],
            1,
        );
        assert_eq!(r[0].shape, Some(sym(&["N", "3", "8"])));
        let r = infer(
            "Shape",
            15,
            Attributes::new().with("start", Attr::Int(1)),
            vec![x.clone()],
            vec![None],
            1,
        );
        assert_eq!(r[0], ValueInfo::fixed(DType::I64, &[2]));
        let r = infer(
            "Slice",
            13,
            Attributes::new(),
            vec![x.clone(), None, None, None, None],
            vec![
                None,
                i64s(&[-1]),
                i64s(&[i64::MIN]),
                i64s(&[2]),
                i64s(&[-2]),
            ],
            1,
        );
        assert_eq!(r[0].shape, Some(sym(&["N", "3", "2"])));
        let r = infer(
            "Split",
            18,
            Attributes::new()
                .with("axis", Attr::Int(1))
                .with("num_outputs", Attr::Int(2)),
            vec![x.clone()],
            vec![None],
            2,
        );
        assert_eq!(r[1].shape, Some(sym(&["N", "1", "4"])));
        let r = infer(
            "Expand",
            13,
            Attributes::new(),
            vec![x, None],
            vec![None, i64s(&[2, 1, 1, 1])],
            1,
        );
        assert_eq!(r[0].shape, Some(sym(&["2", "N", "3", "4"])));
    }
}
