//! Geometry shared by Conv, ConvTranspose and the pooling ops: the `auto_pad`, `pads`,
//! `strides`, `dilations`, `kernel_shape` and `ceil_mode` attributes, and the output size
//! they give. Spatial dims follow `[N, C]` in every input (NC + spatial layout).

use crate::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AutoPad {
    NotSet,
    SameUpper,
    SameLower,
    Valid,
}

/// The window attributes of a node, as given (lengths are checked against the input rank
/// when the geometry is resolved).
#[derive(Clone, Debug)]
pub struct WindowAttrs {
    pub kernel: Option<Vec<i64>>,
    pub strides: Option<Vec<i64>>,
    pub pads: Option<Vec<i64>>,
    pub dilations: Option<Vec<i64>>,
    pub auto_pad: AutoPad,
    pub ceil_mode: bool,
}

impl WindowAttrs {
    pub fn parse(a: &Attributes) -> Result<WindowAttrs> {
        let auto_pad = match a.string_or("auto_pad", "NOTSET".into())?.as_str() {
            "NOTSET" | "" => AutoPad::NotSet,
            "SAME_UPPER" => AutoPad::SameUpper,
            "SAME_LOWER" => AutoPad::SameLower,
            "VALID" => AutoPad::Valid,
            other => bail!("unknown auto_pad '{other}'"),
        };
        let w = WindowAttrs {
            kernel: a.ints("kernel_shape")?,
            strides: a.ints("strides")?,
            pads: a.ints("pads")?,
            dilations: a.ints("dilations")?,
            auto_pad,
            ceil_mode: a.int_or("ceil_mode", 0)? != 0,
        };
        for (name, v, min) in [
            ("kernel_shape", &w.kernel, 1),
            ("strides", &w.strides, 1),
            ("dilations", &w.dilations, 1),
            ("pads", &w.pads, 0),
        ] {
            if let Some(v) = v {
                ensure!(
                    v.iter().all(|&x| x >= min && x <= i32::MAX as i64),
                    "attribute '{name}' must be in {min}..=2^31-1, got {v:?}"
                );
            }
        }
        Ok(w)
    }

    /// Per-dim attribute of length `n` (default `def`), checking its length.
    fn per_dim(v: &Option<Vec<i64>>, n: usize, def: i64, name: &str) -> Result<Vec<usize>> {
        match v {
            None => Ok(vec![def as usize; n]),
            Some(v) => {
                ensure!(
                    v.len() == n,
                    "attribute '{name}' has {} values for {n} spatial dims",
                    v.len()
                );
                Ok(v.iter().map(|&x| x as usize).collect())
            }
        }
    }

    pub fn strides(&self, n: usize) -> Result<Vec<usize>> {
        Self::per_dim(&self.strides, n, 1, "strides")
    }
    pub fn dilations(&self, n: usize) -> Result<Vec<usize>> {
        Self::per_dim(&self.dilations, n, 1, "dilations")
    }
    /// Explicit pads as (begin, end) per dim.
    pub fn explicit_pads(&self, n: usize) -> Result<(Vec<usize>, Vec<usize>)> {
        match &self.pads {
            None => Ok((vec![0; n], vec![0; n])),
            Some(p) => {
                ensure!(
                    p.len() == 2 * n,
                    "attribute 'pads' has {} values for {n} spatial dims (needs {})",
                    p.len(),
                    2 * n
                );
                Ok((
                    p[..n].iter().map(|&x| x as usize).collect(),
                    p[n..].iter().map(|&x| x as usize).collect(),
                ))
            }
        }
    }

    /// The kernel shape: the attribute, or `from_weights` (Conv), checking they agree.
    pub fn kernel(&self, n: usize, from_weights: Option<&[usize]>) -> Result<Vec<usize>> {
        match (&self.kernel, from_weights) {
            (Some(k), w) => {
                let k = Self::per_dim(&Some(k.clone()), n, 1, "kernel_shape")?;
                if let Some(w) = w {
                    ensure!(
                        w == k.as_slice(),
                        "kernel_shape {k:?} does not match the weights' spatial shape {w:?}"
                    );
                }
                Ok(k)
            }
            (None, Some(w)) => Ok(w.to_vec()),
            (None, None) => bail!("missing attribute 'kernel_shape'"),
        }
    }

    /// Resolves the forward (Conv / pooling) geometry for spatial input dims `input`.
    pub fn resolve(&self, input: &[usize], kernel: &[usize]) -> Result<Geometry> {
        let n = input.len();
        ensure!(
            kernel.len() == n,
            "kernel has {} dims for {n} spatial dims",
            kernel.len()
        );
        let strides = self.strides(n)?;
        let dilations = self.dilations(n)?;
        let (mut pb, mut pe) = self.explicit_pads(n)?;
        let mut out = vec![0; n];
        for d in 0..n {
            // dims come from the input and the weights (up to 2^63), strides and dilations
            // from attributes (up to 2^31): the arithmetic is checked
            let too_big = || {
                Error::shape(format!(
                    "spatial dim {d}: input {} with kernel {} (dilation {}, stride {}) is too large",
                    input[d], kernel[d], dilations[d], strides[d]
                ))
            };
            ensure!(kernel[d] >= 1, "spatial dim {d}: kernel size 0");
            let dk = (kernel[d] - 1)
                .checked_mul(dilations[d])
                .and_then(|x| x.checked_add(1))
                .ok_or_else(too_big)?;
            let (i, s) = (input[d], strides[d]);
            match self.auto_pad {
                AutoPad::SameUpper | AutoPad::SameLower => {
                    out[d] = i.div_ceil(s);
                    let total = ((out[d].max(1) - 1) * s) // <= i + s - 1: no overflow
                        .checked_add(dk)
                        .ok_or_else(too_big)?
                        .saturating_sub(i);
                    let small = total / 2;
                    (pb[d], pe[d]) = if self.auto_pad == AutoPad::SameUpper {
                        (small, total - small)
                    } else {
                        (total - small, small)
                    };
                }
                AutoPad::Valid | AutoPad::NotSet => {
                    if self.auto_pad == AutoPad::Valid {
                        (pb[d], pe[d]) = (0, 0);
                    }
                    let padded = i
                        .checked_add(pb[d])
                        .and_then(|x| x.checked_add(pe[d]))
                        .ok_or_else(too_big)?;
                    ensure!(padded >= dk, "spatial dim {d}: input {i} with pads {}+{} is smaller than the dilated kernel {dk}", pb[d], pe[d]);
                    out[d] = if self.ceil_mode {
                        (padded - dk).div_ceil(s) + 1
                    } else {
                        (padded - dk) / s + 1
                    };
                    // a window must start inside the input or the leading pad
                    if self.ceil_mode && (out[d] - 1) * s >= i + pb[d] {
                        out[d] -= 1;
                    }
                }
            }
        }
        Ok(Geometry {
            input: input.to_vec(),
            output: out,
            kernel: kernel.to_vec(),
            strides,
            dilations,
            pads_begin: pb,
            pads_end: pe,
        })
    }
}

/// A resolved window geometry over the spatial dims.
#[derive(Clone, Debug, PartialEq)]
pub struct Geometry {
    pub input: Vec<usize>,
    pub output: Vec<usize>,
    pub kernel: Vec<usize>,
    pub strides: Vec<usize>,
    pub dilations: Vec<usize>,
    pub pads_begin: Vec<usize>,
    pub pads_end: Vec<usize>,
}

impl Geometry {
    /// For output index `o` along dim `d` and kernel tap `k`, the input index, if inside.
    #[inline]
    pub fn tap(&self, d: usize, o: usize, k: usize) -> Option<usize> {
        let i =
            (o * self.strides[d] + k * self.dilations[d]) as isize - self.pads_begin[d] as isize;
        (i >= 0 && (i as usize) < self.input[d]).then_some(i as usize)
    }

    /// The range of output indices along dim `d` whose tap `k` lands inside the input.
    pub fn valid_outputs(&self, d: usize, k: usize) -> std::ops::Range<usize> {
        let (s, off) = (
            self.strides[d] as isize,
            (k * self.dilations[d]) as isize - self.pads_begin[d] as isize,
        );
        // i = o*s + off in [0, input)
        let lo = if off >= 0 { 0 } else { (-off + s - 1) / s };
        let hi = (self.input[d] as isize - off + s - 1).div_euclid(s).max(0);
        let hi = (hi as usize).min(self.output[d]);
        (lo as usize).min(hi)..hi
    }
}

/// Splits a tensor shape into (N, C, spatial dims), requiring rank >= 3 (or `min_rank`).
pub fn split_nc(shape: &[usize], what: &str) -> Result<(usize, usize, Vec<usize>)> {
    ensure!(
        shape.len() >= 3,
        "{what}: input must be [N, C, D1, ...], got shape {shape:?}"
    );
    Ok((shape[0], shape[1], shape[2..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    fn w(auto_pad: AutoPad, pads: Option<Vec<i64>>, strides: Vec<i64>, ceil: bool) -> WindowAttrs {
        WindowAttrs {
            kernel: None,
            strides: Some(strides),
            pads,
            dilations: None,
            auto_pad,
            ceil_mode: ceil,
        }
    }
    #[test]
    fn output_sizes() {
        let g = w(AutoPad::SameLower, None, vec![2, 2], false)
            .resolve(&[5, 5], &[3, 3])
            .unwrap();
        assert_eq!(
            (g.output.clone(), g.pads_begin.clone(), g.pads_end.clone()),
            (vec![3, 3], vec![1, 1], vec![1, 1])
        );
        let g = w(AutoPad::SameUpper, None, vec![1], false)
            .resolve(&[32], &[2])
            .unwrap();
        assert_eq!(
            (g.output, g.pads_begin, g.pads_end),
            (vec![32], vec![0], vec![1])
        );
        let g = w(AutoPad::NotSet, None, vec![2, 2], true)
            .resolve(&[2, 2], &[1, 1])
            .unwrap();
        assert_eq!(g.output, vec![1, 1]);
        let g = w(AutoPad::NotSet, Some(vec![1, 0, 1, 0]), vec![2, 2], false)
            .resolve(&[7, 5], &[3, 3])
            .unwrap();
        assert_eq!(g.output, vec![4, 2]);
        assert!(w(AutoPad::NotSet, None, vec![1], false)
            .resolve(&[2], &[3])
            .is_err());
        assert!(w(AutoPad::NotSet, Some(vec![1]), vec![1], false)
            .resolve(&[4], &[3])
            .is_err());
        // valid_outputs agrees with tap
        let g = w(AutoPad::NotSet, Some(vec![2, 1]), vec![3], false)
            .resolve(&[10], &[4])
            .unwrap();
        for k in 0..4 {
            let r = g.valid_outputs(0, k);
            for o in 0..g.output[0] {
                assert_eq!(r.contains(&o), g.tap(0, o, k).is_some(), "k {k} o {o}");
            }
        }
    }
}
