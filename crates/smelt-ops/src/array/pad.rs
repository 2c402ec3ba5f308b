//! Pad: pads (or, with negative pads, crops) each dim. Modes: constant (fill value), reflect
//! (mirror without repeating the edge), edge (repeat the edge), wrap (periodic). Pads layout:
//! [begin_0.., end_0..]. Opset 1: `paddings` attr, opset 2-10: `pads` + `value` attrs;
//! opset >= 11: inputs pads, constant_value?, and from 18 axes?.

use super::common::*;
use crate::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mode {
    Constant,
    Reflect,
    Edge,
    Wrap,
}

#[derive(Debug)]
pub struct Pad {
    mode: Mode,
    /// (pads, value) from attributes (opset < 11).
    attrs: Option<(Vec<i64>, f32)>,
}

pub fn register(r: &mut Registry) {
    r.register("", "Pad", |ctx| {
        let mode = match ctx.attrs.string_or("mode", "constant".into())?.as_str() {
            "constant" => Mode::Constant,
            "reflect" => Mode::Reflect,
            "edge" => Mode::Edge,
            "wrap" if ctx.opset >= 19 => Mode::Wrap,
            m => bail!("unknown Pad mode '{m}'"),
        };
        let attrs = if ctx.opset < 11 {
            let pads = ctx
                .attrs
                .ints(if ctx.opset < 2 { "paddings" } else { "pads" })?
                .ok_or_else(|| Error::invalid("Pad needs the pads attribute"))?;
            Some((pads, ctx.attrs.float_or("value", 0.0)?))
        } else {
            None
        };
        Ok(Box::new(Pad { mode, attrs }))
    });
}

/// For each output coordinate of a dim, the input coordinate it reads (None: the fill value).
/// `begin` is the (possibly negative) number of elements added before the input.
pub fn pad_map(
    out_len: usize,
    in_len: usize,
    begin: i64,
    mode: Mode,
) -> Result<Vec<Option<usize>>> {
    let n = in_len as i64;
    if mode != Mode::Constant && n == 0 && out_len > 0 {
        bail!("cannot pad an empty dim in {mode:?} mode");
    }
    Ok((0..out_len as i64)
        .map(|o| {
            let i = o - begin;
            if (0..n).contains(&i) {
                return Some(i as usize);
            }
            match mode {
                Mode::Constant => None,
                Mode::Edge => Some(i.clamp(0, n - 1) as usize),
                Mode::Wrap => Some(i.rem_euclid(n) as usize),
                Mode::Reflect if n == 1 => Some(0),
                Mode::Reflect => {
                    let p = 2 * (n - 1);
                    let m = i.rem_euclid(p);
                    Some(if m >= n { p - m } else { m } as usize)
                }
            }
        })
        .collect())
}

/// Builds the output from per-dim coordinate maps over `src` of shape `in_shape`.
pub fn gather_maps<T: Clone>(
    src: &[T],
    in_shape: &[usize],
    maps: &[Vec<Option<usize>>],
    fill: &T,
) -> Vec<T> {
    let out_shape: Vec<usize> = maps.iter().map(|m| m.len()).collect();
    let n = numel(&out_shape);
    let mut out = Vec::with_capacity(n);
    if n == 0 {
        return out;
    }
    let r = maps.len();
    if r == 0 {
        out.push(src[0].clone());
        return out;
    }
    let st = strides(in_shape);
    let last = &maps[r - 1];
    let mut idx = vec![0usize; r - 1];
    loop {
        // offset of the row, or None when any outer coordinate is fill
        let mut row = Some(0usize);
        for (d, &i) in idx.iter().enumerate() {
            row = match (row, maps[d][i]) {
                (Some(o), Some(j)) => Some(o + j * st[d]),
                _ => None,
            };
        }
        match row {
            None => out.extend(std::iter::repeat(fill.clone()).take(last.len())),
            Some(o) => out.extend(last.iter().map(|m| match m {
                Some(j) => src[o + j].clone(),
                None => fill.clone(),
            })),
        }
        let mut k = r - 1;
        loop {
            if k == 0 {
                return out;
            }
            k -= 1;
            idx[k] += 1;
            if idx[k] < maps[k].len() {
                break;
            }
            idx[k] = 0;
        }
    }
}

/// A scalar of `dtype` from an f64 (numeric dtypes; default for others).
fn scalar_of<T: Elem>(v: f64) -> T {
    use num_traits::NumCast;
    dispatch_numeric!(T::DTYPE, N => {
        let x: Option<N> = NumCast::from(v);
        T::slice(&N::into_data(vec![x.unwrap_or_default()])).map(|s| s[0].clone()).unwrap_or_default()
    }, _o => if T::DTYPE == DType::Bool { T::slice(&bool::into_data(vec![v != 0.0])).map(|s| s[0].clone()).unwrap_or_default() } else { T::default() })
}

/// Pads `x` with `pads` ([begins.., ends..] over `axes`) in `mode`; `value` is the constant fill.
pub fn pad(
    x: &Tensor,
    pads: &[i64],
    axes: &[usize],
    mode: Mode,
    value: Option<&Tensor>,
    fval: f64,
) -> Result<Tensor> {
    let k = axes.len();
    ensure!(
        pads.len() == 2 * k,
        "pads {pads:?} should have {} entries",
        2 * k
    );
    let mut maps = Vec::with_capacity(x.rank());
    let mut shape = x.shape().to_vec();
    for d in 0..x.rank() {
        let (b, e) = axes
            .iter()
            .position(|&a| a == d)
            .map_or((0, 0), |j| (pads[j], pads[j + k]));
        let o = x.shape()[d] as i64 + b + e;
        ensure!(
            o >= 0,
            "pads {pads:?} remove more than dim {d} of size {} holds",
            x.shape()[d]
        );
        shape[d] = o as usize;
        maps.push(pad_map(o as usize, x.shape()[d], b, mode)?);
    }
    dispatch_any!(x.dtype(), T => {
        let fill: T = match value {
            Some(v) => {
                ensure!(v.dtype() == x.dtype() && v.len() == 1, "constant_value must be one {} element", x.dtype());
                v.as_slice::<T>()?[0].clone()
            }
            None => scalar_of::<T>(fval),
        };
        let v = gather_maps(x.as_slice::<T>()?, x.shape(), &maps, &fill);
        mk(x.dtype(), shape, v)
    })
}

impl Op for Pad {
    fn op_type(&self) -> &str {
        "Pad"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let y = match &self.attrs {
            Some((pads, v)) => pad(
                x,
                pads,
                &(0..x.rank()).collect::<Vec<_>>(),
                self.mode,
                None,
                *v as f64,
            )?,
            None => {
                let pads = req(&inputs, 1)?.to_i64_vec()?;
                let value = opt(&inputs, 2).filter(|t| !t.is_empty());
                let axes = match opt(&inputs, 3) {
                    Some(a) => norm_axes(&a.to_i64_vec()?, x.rank())?,
                    None => (0..x.rank()).collect(),
                };
                pad(x, &pads, &axes, self.mode, value, 0.0)?
            }
        };
        Ok(vec![y])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn maps() {
        let m = |v: Vec<Option<usize>>| {
            v.into_iter()
                .map(|x| x.map_or(-1, |x| x as i64))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            m(pad_map(9, 3, 3, Mode::Reflect).unwrap()),
            vec![1, 2, 1, 0, 1, 2, 1, 0, 1]
        );
        assert_eq!(
            m(pad_map(7, 3, 2, Mode::Wrap).unwrap()),
            vec![1, 2, 0, 1, 2, 0, 1]
        );
        assert_eq!(
            m(pad_map(5, 3, 1, Mode::Edge).unwrap()),
            vec![0, 0, 1, 2, 2]
        );
        assert_eq!(m(pad_map(2, 3, -1, Mode::Constant).unwrap()), vec![1, 2]);
        assert!(pad_map(2, 0, 1, Mode::Edge).is_err());
    }
    #[test]
    fn negative_pads_crop() {
        let x = Tensor::from_vec(vec![2, 3], vec![1i32, 2, 3, 4, 5, 6]).unwrap();
        let y = pad(&x, &[0, -1, 1, 0], &[0, 1], Mode::Constant, None, 7.0).unwrap();
        assert_eq!(y.shape(), &[3, 2]);
        assert_eq!(y.as_slice::<i32>().unwrap(), &[2, 3, 5, 6, 7, 7]);
        assert!(pad(&x, &[0, -4, 0, 0], &[0, 1], Mode::Constant, None, 0.0).is_err());
    }
}
