//! Conv (1-d and 2-d, NCHW): attributes parsed with the CPU op's window rules
//! (`smelt_ops::nn::spatial`), so both backends agree on output sizes and padding.

use super::i32_of;
use smelt_core::{Error, Result};
use smelt_ir::Attributes;
use smelt_ops::nn::spatial::WindowAttrs;

#[derive(Clone, Debug)]
pub struct ConvAttrs {
    pub window: WindowAttrs,
    pub groups: usize,
    /// Relu applied to the output (with the bias): set by fusion (`plan::fuse::conv_relu`)
    /// when the Conv's one reader is a Relu, never by an attribute.
    pub relu: bool,
}

impl ConvAttrs {
    pub fn parse(a: &Attributes) -> Result<ConvAttrs> {
        let groups = a.int_or("group", 1)?;
        if groups < 1 {
            return Err(Error::invalid(format!("group {groups} < 1")));
        }
        Ok(ConvAttrs {
            window: WindowAttrs::parse(a)?,
            groups: groups as usize,
            relu: false,
        })
    }
}

/// The kernels' parameter block (`ConvP` in conv.cu). A 1-d conv has h = oh = kh = 1.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConvParams {
    pub n: i32,
    pub c: i32,
    pub h: i32,
    pub w: i32,
    pub m: i32,
    pub oh: i32,
    pub ow: i32,
    pub kh: i32,
    pub kw: i32,
    pub sh: i32,
    pub sw: i32,
    pub ph: i32,
    pub pw: i32,
    pub dh: i32,
    pub dw: i32,
    pub groups: i32,
}

impl ConvParams {
    /// Rows of the im2col matrix (c * kh * kw) and its columns (oh * ow), per image.
    pub fn col_dims(&self) -> (usize, usize) {
        (
            (self.c * self.kh * self.kw) as usize,
            (self.oh * self.ow) as usize,
        )
    }
}

/// Plans Conv of x [N, C, (H,) W] with weights [M, C/groups, (kh,) kw].
/// Returns the parameters and the output shape.
pub fn plan(a: &ConvAttrs, x: &[usize], w: &[usize]) -> Result<(ConvParams, Vec<usize>)> {
    if !(x.len() == 3 || x.len() == 4) || w.len() != x.len() {
        return Err(Error::unsupported(
            "Conv",
            format!("GPU conv is 1-d or 2-d; input {x:?}, weights {w:?}"),
        ));
    }
    let sp = &x[2..];
    let g = a
        .window
        .resolve(sp, &a.window.kernel(sp.len(), Some(&w[2..]))?)?;
    let (n, c, m) = (x[0], x[1], w[0]);
    if c % a.groups != 0 || m % a.groups != 0 || w[1] * a.groups != c {
        return Err(Error::shape(format!(
            "Conv: input channels {c}, weights {w:?} and group {} disagree",
            a.groups
        )));
    }
    // 1-d: a 2-d conv over height 1
    let two = |v: &[usize], one: usize| -> (usize, usize) {
        if v.len() == 2 {
            (v[0], v[1])
        } else {
            (one, v[0])
        }
    };
    let (h, wd) = two(&g.input, 1);
    let (oh, ow) = two(&g.output, 1);
    let (kh, kw) = two(&g.kernel, 1);
    let (sh, sw) = two(&g.strides, 1);
    let (ph, pw) = two(&g.pads_begin, 0);
    let (dh, dw) = two(&g.dilations, 1);
    let mut out = vec![n, m];
    out.extend(&g.output);
    let total: usize = out.iter().product();
    i32_of(total, "Conv output size")?;
    i32_of(n * c * h * wd, "Conv input size")?;
    i32_of(n * c * kh * kw * oh * ow, "im2col size")?;
    let p = ConvParams {
        n: n as i32,
        c: c as i32,
        h: h as i32,
        w: wd as i32,
        m: m as i32,
        oh: oh as i32,
        ow: ow as i32,
        kh: kh as i32,
        kw: kw as i32,
        sh: sh as i32,
        sw: sw as i32,
        ph: ph as i32,
        pw: pw as i32,
        dh: dh as i32,
        dw: dw as i32,
        groups: a.groups as i32,
    };
    Ok((p, out))
}

/// ConvTranspose's attributes (`output_shape` is not planned on the GPU).
#[derive(Clone, Debug)]
pub struct ConvTransposeAttrs {
    pub window: WindowAttrs,
    pub groups: usize,
    pub output_padding: Option<Vec<i64>>,
}

impl ConvTransposeAttrs {
    pub fn parse(a: &Attributes) -> Result<ConvTransposeAttrs> {
        if a.has("output_shape") {
            return Err(Error::unsupported(
                "ConvTranspose",
                "output_shape on the GPU",
            ));
        }
        let c = ConvAttrs::parse(a)?;
        let output_padding = a.ints("output_padding")?;
        if output_padding
            .as_ref()
            .is_some_and(|p| p.iter().any(|&v| !(0..=i32::MAX as i64).contains(&v)))
        {
            return Err(Error::invalid(format!(
                "bad output_padding {output_padding:?}"
            )));
        }
        Ok(ConvTransposeAttrs {
            window: c.window,
            groups: c.groups,
            output_padding,
        })
    }
}

/// Plans ConvTranspose of x [N, C, (H,) W] with weights [C, M/groups, (kh,) kw]:
/// out = stride * (in - 1) + output_padding + (k - 1) * dilation + 1 - pad_begin - pad_end,
/// the pads explicit, or from auto_pad (SAME_*: out = in * stride, the odd pad at the end for
/// SAME_UPPER, at the start for SAME_LOWER; VALID: none). `ConvParams.c` is the input's
/// channels and `m` the output's.
pub fn plan_transpose(
    a: &ConvTransposeAttrs,
    x: &[usize],
    w: &[usize],
) -> Result<(ConvParams, Vec<usize>)> {
    use smelt_ops::nn::spatial::AutoPad;
    if !(x.len() == 3 || x.len() == 4) || w.len() != x.len() {
        return Err(Error::unsupported(
            "ConvTranspose",
            format!("GPU conv transpose is 1-d or 2-d; input {x:?}, weights {w:?}"),
        ));
    }
    let nd = x.len() - 2;
    let (n, c) = (x[0], x[1]);
    if w[0] != c || c % a.groups != 0 {
        return Err(Error::shape(format!(
            "ConvTranspose: input {x:?}, weights {w:?}, group {}",
            a.groups
        )));
    }
    let m = w[1] * a.groups;
    let k = a.window.kernel(nd, Some(&w[2..]))?;
    let s = a.window.strides(nd)?;
    let d = a.window.dilations(nd)?;
    let (mut pb, mut pe) = a.window.explicit_pads(nd)?;
    let op: Vec<usize> = match &a.output_padding {
        Some(p) if p.len() == nd => p.iter().map(|&v| v as usize).collect(),
        Some(p) => {
            return Err(Error::invalid(format!(
                "output_padding {p:?} for {nd} dims"
            )))
        }
        None => vec![0; nd],
    };
    let mut out = vec![n, m];
    for i in 0..nd {
        let dk = (k[i] - 1) * d[i] + 1;
        let full = s[i] * (x[2 + i].max(1) - 1) + op[i] + dk;
        match a.window.auto_pad {
            AutoPad::SameUpper | AutoPad::SameLower => {
                let target = x[2 + i] * s[i];
                let total = full.saturating_sub(target);
                let small = total / 2;
                (pb[i], pe[i]) = if a.window.auto_pad == AutoPad::SameUpper {
                    (small, total - small)
                } else {
                    (total - small, small)
                };
            }
            AutoPad::Valid => (pb[i], pe[i]) = (0, 0),
            AutoPad::NotSet => {}
        }
        let o = full.checked_sub(pb[i] + pe[i]).ok_or_else(|| {
            Error::shape(format!("ConvTranspose: pads exceed the output on dim {i}"))
        })?;
        out.push(o);
    }
    i32_of(out.iter().product(), "ConvTranspose output size")?;
    i32_of(x.iter().product(), "ConvTranspose input size")?;
    let two = |v: &[usize], i: usize, one: usize| -> i32 {
        if nd == 2 {
            v[i] as i32
        } else if i == 0 {
            one as i32
        } else {
            v[0] as i32
        }
    };
    let sp: Vec<usize> = out[2..].to_vec();
    let xin: Vec<usize> = x[2..].to_vec();
    Ok((
        ConvParams {
            n: n as i32,
            c: c as i32,
            h: two(&xin, 0, 1),
            w: two(&xin, 1, 1),
            m: m as i32,
            oh: two(&sp, 0, 1),
            ow: two(&sp, 1, 1),
            kh: two(&k, 0, 1),
            kw: two(&k, 1, 1),
            sh: two(&s, 0, 1),
            sw: two(&s, 1, 1),
            ph: two(&pb, 0, 0),
            pw: two(&pb, 1, 0),
            dh: two(&d, 0, 1),
            dw: two(&d, 1, 1),
            groups: a.groups as i32,
        },
        out,
    ))
}
