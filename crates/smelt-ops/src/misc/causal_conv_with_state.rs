//! CausalConvWithState (opset 27): depthwise causal 1-D convolution with carried state.
//! input [B, C, L], weight [C, 1, K], bias [C]?, past_state [B, C, K-1]? (zeros if absent).
//! output [B, C, L] = conv(concat(past_state, input)), optional SiLU (`activation` silu/swish);
//! present_state [B, C, K-1] = the last K-1 positions of the padded input.

use crate::prelude::*;
use num_traits::{Float, NumCast};

#[derive(Debug)]
pub struct CausalConvWithState {
    silu: bool,
}

pub fn register(r: &mut Registry) {
    r.register("", "CausalConvWithState", |c| {
        let act = c.attrs.string_or("activation", "none".into())?;
        ensure!(
            matches!(act.as_str(), "none" | "silu" | "swish"),
            "unknown activation '{act}' (none, silu, swish)"
        );
        Ok(Box::new(CausalConvWithState {
            silu: act != "none",
        }))
    });
}

impl Op for CausalConvWithState {
    fn op_type(&self) -> &str {
        "CausalConvWithState"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let w = req(&inputs, 1)?;
        ensure!(
            x.rank() == 3,
            "input must be [B, C, L], got {:?}",
            x.shape()
        );
        ensure!(
            w.rank() == 3 && w.shape()[1] == 1 && w.shape()[0] == x.shape()[1],
            "weight must be [C, 1, K] with C = {}, got {:?}",
            x.shape()[1],
            w.shape()
        );
        let (b, c, l) = (x.shape()[0], x.shape()[1], x.shape()[2]);
        let k = w.shape()[2];
        ensure!(k >= 1, "kernel length must be >= 1");
        let f64s = |t: &Tensor| t.to_f64_vec();
        let (xv, wv) = (f64s(x)?, f64s(w)?);
        let bias = opt(&inputs, 2).map(f64s).transpose()?;
        if let Some(bv) = &bias {
            ensure!(
                bv.len() == c,
                "bias must have C = {c} elements, has {}",
                bv.len()
            );
        }
        let past = match opt(&inputs, 3) {
            Some(p) => {
                ensure!(
                    p.shape() == [b, c, k - 1],
                    "past_state must be [{b}, {c}, {}], got {:?}",
                    k - 1,
                    p.shape()
                );
                f64s(p)?
            }
            None => vec![0.0; b * c * (k - 1)],
        };
        let lp = l + k - 1;
        let mut out = vec![0f64; b * c * l];
        let mut state = vec![0f64; b * c * (k - 1)];
        let mut padded = vec![0f64; lp];
        for bc in 0..b * c {
            padded[..k - 1].copy_from_slice(&past[bc * (k - 1)..(bc + 1) * (k - 1)]);
            padded[k - 1..].copy_from_slice(&xv[bc * l..(bc + 1) * l]);
            let ch = bc % c;
            let wk = &wv[ch * k..(ch + 1) * k];
            for t in 0..l {
                let mut acc = bias.as_ref().map_or(0.0, |bv| bv[ch]);
                for j in 0..k {
                    acc += padded[t + j] * wk[j];
                }
                if self.silu {
                    acc /= 1.0 + (-acc).exp();
                }
                out[bc * l + t] = acc;
            }
            state[bc * (k - 1)..(bc + 1) * (k - 1)].copy_from_slice(&padded[lp - (k - 1)..]);
        }
        dispatch_float!(x.dtype(), T => {
            let conv = |v: Vec<f64>| v.into_iter().map(|f| <T as NumCast>::from(f).unwrap_or(T::nan())).collect::<Vec<T>>();
            Ok(vec![Tensor::from_vec(vec![b, c, l], conv(out))?, Tensor::from_vec(vec![b, c, k - 1], conv(state))?])
        }, d => Err(Error::dtype(d, "CausalConvWithState")))
    }
}
