//! ConvInteger (opset 10): Y (i32) = conv(x - x_zero_point, w - w_zero_point). x, w: u8 / i8;
//! x_zero_point scalar; w_zero_point scalar or one per output channel. Conv attributes as in
//! Conv (auto_pad, dilations, group, kernel_shape, pads, strides); padding is zero after
//! centring.

use super::common::{int_conv, ConvAttrs};
use crate::prelude::*;

#[derive(Debug)]
pub struct ConvInteger {
    attrs: ConvAttrs,
}

pub fn register(r: &mut Registry) {
    r.register("", "ConvInteger", |ctx| {
        Ok(Box::new(ConvInteger {
            attrs: ConvAttrs::parse(ctx.attrs)?,
        }))
    });
}

impl Op for ConvInteger {
    fn op_type(&self) -> &str {
        "ConvInteger"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let w = req(&inputs, 1)?;
        for t in [Some(x), Some(w), opt(&inputs, 2), opt(&inputs, 3)]
            .into_iter()
            .flatten()
        {
            ensure!(
                matches!(t.dtype(), DType::U8 | DType::I8),
                "ConvInteger takes u8 / i8, got {}",
                t.dtype()
            );
        }
        let (shape, v) = int_conv(x, opt(&inputs, 2), w, opt(&inputs, 3), &self.attrs)?;
        Ok(vec![Tensor::from_vec(shape, v)?])
    }
}

#[cfg(test)]
mod tests {
    use super::super::common::*;
    use crate::prelude::*;

    fn i8s(shape: &[usize], v: &[i32]) -> Tensor {
        Tensor::from_vec(
            shape.to_vec(),
            v.iter().map(|&x| x as i8).collect::<Vec<_>>(),
        )
        .unwrap()
    }
    fn u8s(shape: &[usize], v: &[i32]) -> Tensor {
        Tensor::from_vec(
            shape.to_vec(),
            v.iter().map(|&x| x as u8).collect::<Vec<_>>(),
        )
        .unwrap()
    }

    fn vals(n: usize, seed: u64, lo: i32, span: u64) -> Vec<i32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                lo + ((s >> 33) % span) as i32
            })
            .collect()
    }

    /// Direct 2-D grouped conv with explicit padding.
    #[allow(clippy::too_many_arguments)]
    fn naive(
        x: &[i32],
        xs: [usize; 4],
        w: &[i32],
        ws: [usize; 4],
        g: usize,
        st: [usize; 2],
        dil: [usize; 2],
        pads: [i64; 4],
    ) -> (Vec<usize>, Vec<i32>) {
        let [n, c, h, wd] = xs;
        let [m, cg, kh, kw] = ws;
        let oh = ((h as i64 + pads[0] + pads[2] - (dil[0] * (kh - 1) + 1) as i64) / st[0] as i64
            + 1) as usize;
        let ow = ((wd as i64 + pads[1] + pads[3] - (dil[1] * (kw - 1) + 1) as i64) / st[1] as i64
            + 1) as usize;
        let mut out = vec![0; n * m * oh * ow];
        for b in 0..n {
            for oc in 0..m {
                let gi = oc / (m / g);
                for y in 0..oh {
                    for xx in 0..ow {
                        let mut acc = 0;
                        for cc in 0..cg {
                            for ky in 0..kh {
                                for kx in 0..kw {
                                    let iy = (y * st[0] + ky * dil[0]) as i64 - pads[0];
                                    let ix = (xx * st[1] + kx * dil[1]) as i64 - pads[1];
                                    if iy < 0 || ix < 0 || iy >= h as i64 || ix >= wd as i64 {
                                        continue;
                                    }
                                    let ch = gi * cg + cc;
                                    acc += x[((b * c + ch) * h + iy as usize) * wd + ix as usize]
                                        * w[((oc * cg + cc) * kh + ky) * kw + kx];
                                }
                            }
                        }
                        out[((b * m + oc) * oh + y) * ow + xx] = acc;
                    }
                }
            }
        }
        (vec![n, m, oh, ow], out)
    }

    #[test]
    fn matches_naive_conv() {
        for (hw, g, st, dil, pads) in [
            (
                31usize,
                1usize,
                [1usize, 1usize],
                [1usize, 1usize],
                [0i64, 0, 0, 0],
            ),
            (32, 2, [2, 1], [1, 2], [1, 2, 0, 1]),
            (33, 3, [3, 2], [2, 1], [2, 0, 1, 2]),
        ] {
            let xs = [2, 3 * g, 5, hw];
            let ws = [2 * g, 3, 3, 2];
            let x = vals(xs.iter().product(), hw as u64, -128, 256);
            let w = vals(ws.iter().product(), 7 + hw as u64, -128, 256);
            let attrs = Attributes::new()
                .with("group", Attr::Int(g as i64))
                .with(
                    "strides",
                    Attr::Ints(st.iter().map(|&v| v as i64).collect()),
                )
                .with(
                    "dilations",
                    Attr::Ints(dil.iter().map(|&v| v as i64).collect()),
                )
                .with("pads", Attr::Ints(pads.to_vec()));
            let c = ConvAttrs::parse(&attrs).unwrap();
            let got = int_conv(&i8s(&xs, &x), None, &i8s(&ws, &w), None, &c).unwrap();
            assert_eq!(got, naive(&x, xs, &w, ws, g, st, dil, pads));
        }
    }

    #[test]
    fn same_upper_keeps_size_and_bad_input_errors() {
        let xs = [1, 1, 7, 6];
        let ws = [1, 1, 3, 3];
        let x = vals(42, 1, 0, 255);
        let w = vals(9, 2, 0, 255);
        let c = ConvAttrs::parse(
            &Attributes::new().with("auto_pad", Attr::String("SAME_UPPER".into())),
        )
        .unwrap();
        let (tx, tw) = (u8s(&xs, &x), u8s(&ws, &w));
        let (s, _) = int_conv(&tx, None, &tw, None, &c).unwrap();
        assert_eq!(s, vec![1, 1, 7, 6]);
        let c = ConvAttrs::parse(&Attributes::new()).unwrap();
        assert!(int_conv(
            &tx,
            None,
            &u8s(&[1, 2, 3, 3], &vals(18, 3, 0, 255)),
            None,
            &c
        )
        .is_err());
        assert!(int_conv(&tx, None, &u8s(&[1, 1, 0, 3], &[]), None, &c).is_err());
        // a zero point outside x's type, or of the wrong length, is an error
        let z = Tensor::from_vec(vec![], vec![-3i8]).unwrap();
        assert!(int_conv(&tx, Some(&z), &tw, None, &c).is_err());
        let z2 = Tensor::from_vec(vec![2], vec![1u8, 2]).unwrap();
        assert!(int_conv(&tx, None, &tw, Some(&z2), &c).is_err());
        assert!(int_conv(&tx, Some(&z2), &tw, None, &c).is_err());
        assert!(ConvAttrs::parse(&Attributes::new().with("group", Attr::Int(0))).is_err());
    }
}
