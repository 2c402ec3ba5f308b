//! Shared by RNN / GRU / LSTM: attributes (direction, hidden_size, layout, clip, activations
//! with alphas / betas), input unpacking and output assembly.
//!
//! Shapes (layout 0): X [seq, batch, input]; W [dirs, G*H, input]; R [dirs, G*H, H];
//! B [dirs, 2*G*H] (Wb then Rb); sequence_lens [batch]; initial_h / initial_c [dirs, batch, H].
//! Outputs Y [seq, dirs, batch, H], Y_h / Y_c [dirs, batch, H].
//! Layout 1 puts batch first: X [batch, seq, input], Y [batch, seq, dirs, H],
//! Y_h / Y_c [batch, dirs, H]. Steps past a sequence's length are zero in Y.
//! Arithmetic is in f64; outputs take X's dtype (f32, f16, bf16 or f64).

use crate::prelude::*;

/// An activation function with its alpha / beta.
#[derive(Clone, Copy, Debug)]
pub enum Act {
    Relu,
    Tanh,
    Sigmoid,
    Affine(f64, f64),
    LeakyRelu(f64),
    ThresholdedRelu(f64),
    ScaledTanh(f64, f64),
    HardSigmoid(f64, f64),
    Elu(f64),
    Softsign,
    Softplus,
}

impl Act {
    #[inline]
    pub fn apply(self, x: f64) -> f64 {
        match self {
            Act::Relu => x.max(0.0),
            Act::Tanh => x.tanh(),
            Act::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            Act::Affine(a, b) => a * x + b,
            Act::LeakyRelu(a) => {
                if x >= 0.0 {
                    x
                } else {
                    a * x
                }
            }
            Act::ThresholdedRelu(a) => {
                if x > a {
                    x
                } else {
                    0.0
                }
            }
            Act::ScaledTanh(a, b) => a * (b * x).tanh(),
            Act::HardSigmoid(a, b) => (a * x + b).clamp(0.0, 1.0),
            Act::Elu(a) => {
                if x >= 0.0 {
                    x
                } else {
                    a * (x.exp() - 1.0)
                }
            }
            Act::Softsign => x / (1.0 + x.abs()),
            Act::Softplus => (1.0 + x.exp()).ln(),
        }
    }

    /// Parses a name, consuming its alpha / beta from the iterators (defaults when exhausted).
    fn parse(
        name: &str,
        al: &mut impl Iterator<Item = f32>,
        be: &mut impl Iterator<Item = f32>,
    ) -> Result<Act> {
        let mut a = |d: f64| al.next().map_or(d, |v| v as f64);
        Ok(match name.to_ascii_lowercase().as_str() {
            "relu" => Act::Relu,
            "tanh" => Act::Tanh,
            "sigmoid" => Act::Sigmoid,
            "affine" => {
                let x = a(1.0);
                Act::Affine(x, be.next().map_or(0.0, |v| v as f64))
            }
            "leakyrelu" => Act::LeakyRelu(a(0.01)),
            "thresholdedrelu" => Act::ThresholdedRelu(a(1.0)),
            "scaledtanh" => {
                let x = a(1.0);
                Act::ScaledTanh(x, be.next().map_or(1.0, |v| v as f64))
            }
            "hardsigmoid" => {
                let x = a(0.2);
                Act::HardSigmoid(x, be.next().map_or(0.5, |v| v as f64))
            }
            "elu" => Act::Elu(a(1.0)),
            "softsign" => Act::Softsign,
            "softplus" => Act::Softplus,
            _ => bail!("unknown activation '{name}'"),
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Direction {
    Forward,
    Reverse,
    Bidirectional,
}

/// Attributes every recurrent op has.
#[derive(Clone, Debug)]
pub struct RnnAttrs {
    pub direction: Direction,
    pub hidden_size: Option<usize>,
    pub layout: i64,
    pub clip: Option<f64>,
    /// `n_acts` activations per direction, one Vec per direction.
    pub acts: Vec<Vec<Act>>,
}

impl RnnAttrs {
    /// Parses the common attributes; `defaults` are the activations of one direction.
    pub fn parse(a: &Attributes, defaults: &[&str]) -> Result<RnnAttrs> {
        let direction = match a.string_or("direction", "forward".into())?.as_str() {
            "forward" => Direction::Forward,
            "reverse" => Direction::Reverse,
            "bidirectional" => Direction::Bidirectional,
            d => bail!("unknown direction '{d}'"),
        };
        let dirs = if direction == Direction::Bidirectional {
            2
        } else {
            1
        };
        let hidden_size = match a.int("hidden_size")? {
            Some(h) if h <= 0 => bail!("hidden_size must be positive, got {h}"),
            Some(h) => Some(h as usize),
            None => None,
        };
        let layout = a.int_or("layout", 0)?;
        ensure!(
            layout == 0 || layout == 1,
            "layout must be 0 or 1, got {layout}"
        );
        let clip = a.float("clip")?.map(|c| c as f64);
        if let Some(c) = clip {
            ensure!(c > 0.0, "clip must be positive, got {c}");
        }
        let n = defaults.len();
        let mut names: Vec<String> = a.strings_or("activations", vec![])?;
        if names.is_empty() {
            names = (0..dirs)
                .flat_map(|_| defaults.iter().map(|s| s.to_string()))
                .collect();
        } else if names.len() == n && dirs == 2 {
            let again = names.clone();
            names.extend(again);
        }
        ensure!(
            names.len() == n * dirs,
            "expected {} activations, got {}",
            n * dirs,
            names.len()
        );
        let alphas = a.floats_or("activation_alpha", vec![])?;
        let betas = a.floats_or("activation_beta", vec![])?;
        let (mut al, mut be) = (alphas.into_iter(), betas.into_iter());
        let mut acts = vec![];
        for d in 0..dirs {
            let mut v = vec![];
            for name in &names[d * n..(d + 1) * n] {
                v.push(Act::parse(name, &mut al, &mut be)?);
            }
            acts.push(v);
        }
        Ok(RnnAttrs {
            direction,
            hidden_size,
            layout,
            clip,
            acts,
        })
    }

    pub fn dirs(&self) -> usize {
        if self.direction == Direction::Bidirectional {
            2
        } else {
            1
        }
    }

    /// Whether direction slot `d` runs backwards in time.
    pub fn reversed(&self, d: usize) -> bool {
        self.direction == Direction::Reverse
            || (self.direction == Direction::Bidirectional && d == 1)
    }

    #[inline]
    pub fn clip(&self, x: f64) -> f64 {
        match self.clip {
            Some(c) => x.clamp(-c, c),
            None => x,
        }
    }
}

/// Output types from X's: Y, Y_h (and Y_c when `n_states` is 2), dtype of X, shapes where
/// X's dims and hidden_size are known.
pub fn infer(at: &RnnAttrs, ctx: &InferCtx, n_states: usize) -> Vec<ValueInfo> {
    let x = ctx.inputs.first().cloned().flatten().unwrap_or_default();
    let dirs = Dim::Fixed(at.dirs());
    let dims = x.shape.as_ref().filter(|s| s.len() == 3).map(|s| {
        if at.layout == 0 {
            (s[0].clone(), s[1].clone())
        } else {
            (s[1].clone(), s[0].clone())
        }
    });
    let shaped = |f: &dyn Fn(Dim, Dim, Dim) -> Vec<Dim>| match (&dims, at.hidden_size) {
        (Some((seq, batch)), Some(h)) => Some(f(seq.clone(), batch.clone(), Dim::Fixed(h))),
        _ => None,
    };
    let y = shaped(&|seq, batch, h| {
        if at.layout == 0 {
            vec![seq, dirs.clone(), batch, h]
        } else {
            vec![batch, seq, dirs.clone(), h]
        }
    });
    let st = shaped(&|_, batch, h| {
        if at.layout == 0 {
            vec![dirs.clone(), batch, h]
        } else {
            vec![batch, dirs.clone(), h]
        }
    });
    let mut v = vec![ValueInfo {
        dtype: x.dtype,
        shape: y,
    }];
    for _ in 0..n_states {
        v.push(ValueInfo {
            dtype: x.dtype,
            shape: st.clone(),
        });
    }
    v
}

/// Unpacked inputs, in layout-0 order, as f64.
pub struct Prepared {
    pub dtype: DType,
    pub seq: usize,
    pub batch: usize,
    pub input: usize,
    pub hidden: usize,
    /// [seq, batch, input]
    pub x: Vec<f64>,
    /// [dirs, G*H, input]
    pub w: Vec<f64>,
    /// [dirs, G*H, H]
    pub r: Vec<f64>,
    /// [dirs, 2*G*H]
    pub b: Vec<f64>,
    pub lens: Vec<usize>,
    /// [dirs, batch, H]
    pub h0: Vec<f64>,
}

fn f64s(t: &Tensor) -> Result<Vec<f64>> {
    ensure!(
        t.dtype().is_float(),
        "recurrent op inputs must be float, got {}",
        t.dtype()
    );
    t.to_f64_vec()
}

/// Reads and validates X, W, R, B, sequence_lens, initial_h for `g` gates.
pub fn prepare(at: &RnnAttrs, inputs: &[Option<Tensor>], g: usize) -> Result<Prepared> {
    let x = req(inputs, 0)?;
    let w = req(inputs, 1)?;
    let r = req(inputs, 2)?;
    ensure!(
        x.rank() == 3 && w.rank() == 3 && r.rank() == 3,
        "X, W, R must be rank 3 (got {:?}, {:?}, {:?})",
        x.shape(),
        w.shape(),
        r.shape()
    );
    let dirs = at.dirs();
    let (seq, batch, input) = if at.layout == 0 {
        (x.shape()[0], x.shape()[1], x.shape()[2])
    } else {
        (x.shape()[1], x.shape()[0], x.shape()[2])
    };
    let hidden = at.hidden_size.unwrap_or(r.shape()[2]);
    ensure!(
        w.shape() == [dirs, g * hidden, input],
        "W shape {:?}, expected {:?}",
        w.shape(),
        [dirs, g * hidden, input]
    );
    ensure!(
        r.shape() == [dirs, g * hidden, hidden],
        "R shape {:?}, expected {:?}",
        r.shape(),
        [dirs, g * hidden, hidden]
    );
    let mut xv = f64s(x)?;
    if at.layout == 1 {
        xv = swap01(&xv, batch, seq, input);
    }
    let b = match opt(inputs, 3) {
        Some(b) => {
            ensure!(
                b.shape() == [dirs, 2 * g * hidden],
                "B shape {:?}, expected {:?}",
                b.shape(),
                [dirs, 2 * g * hidden]
            );
            f64s(b)?
        }
        None => vec![0.0; dirs * 2 * g * hidden],
    };
    let lens = match opt(inputs, 4) {
        Some(l) => {
            let v = l.to_i64_vec()?;
            ensure!(
                v.len() == batch,
                "sequence_lens has {} entries, batch is {batch}",
                v.len()
            );
            v.iter()
                .map(|&n| {
                    ensure!(
                        n >= 0 && n as usize <= seq,
                        "sequence length {n} outside 0..={seq}"
                    );
                    Ok(n as usize)
                })
                .collect::<Result<Vec<_>>>()?
        }
        None => vec![seq; batch],
    };
    let h0 = state(at, opt(inputs, 5), dirs, batch, hidden, "initial_h")?;
    Ok(Prepared {
        dtype: x.dtype(),
        seq,
        batch,
        input,
        hidden,
        x: xv,
        w: f64s(w)?,
        r: f64s(r)?,
        b,
        lens,
        h0,
    })
}

/// An initial state input [dirs, batch, H] (layout 1: [batch, dirs, H]) in layout-0 order, or zeros.
pub fn state(
    at: &RnnAttrs,
    t: Option<&Tensor>,
    dirs: usize,
    batch: usize,
    hidden: usize,
    what: &str,
) -> Result<Vec<f64>> {
    match t {
        None => Ok(vec![0.0; dirs * batch * hidden]),
        Some(t) => {
            let want = if at.layout == 0 {
                [dirs, batch, hidden]
            } else {
                [batch, dirs, hidden]
            };
            ensure!(
                t.shape() == want,
                "{what} shape {:?}, expected {want:?}",
                t.shape()
            );
            let v = f64s(t)?;
            Ok(if at.layout == 1 {
                swap01(&v, batch, dirs, hidden)
            } else {
                v
            })
        }
    }
}

/// [a, b, c] -> [b, a, c].
pub fn swap01(v: &[f64], a: usize, b: usize, c: usize) -> Vec<f64> {
    let mut o = vec![0.0; v.len()];
    for i in 0..a {
        for j in 0..b {
            o[(j * a + i) * c..][..c].copy_from_slice(&v[(i * b + j) * c..][..c]);
        }
    }
    o
}

/// out[g] += sum_k m[g, k] * v[k] for a row-major [rows, k] matrix.
#[inline]
pub fn matvec_add(m: &[f64], v: &[f64], out: &mut [f64]) {
    let k = v.len();
    for (o, row) in out.iter_mut().zip(m.chunks_exact(k.max(1))) {
        let mut s = 0.0;
        for (a, b) in row.iter().zip(v) {
            s += a * b;
        }
        *o += s;
    }
}

/// Converts f64 values to a tensor of float dtype `d`.
pub fn to_tensor(d: DType, shape: Vec<usize>, v: Vec<f64>) -> Result<Tensor> {
    match d {
        DType::F64 => Tensor::from_vec(shape, v),
        DType::F32 => Tensor::from_vec(shape, v.into_iter().map(|x| x as f32).collect::<Vec<_>>()),
        DType::F16 => Tensor::from_vec(shape, v.into_iter().map(f16::from_f64).collect::<Vec<_>>()),
        DType::BF16 => {
            Tensor::from_vec(shape, v.into_iter().map(bf16::from_f64).collect::<Vec<_>>())
        }
        d => Err(Error::dtype(d, "recurrent op output")),
    }
}

/// Builds Y from [seq, dirs, batch, H] values and a final state from [dirs, batch, H],
/// applying the layout.
pub fn y_tensor(at: &RnnAttrs, p: &Prepared, y: Vec<f64>) -> Result<Tensor> {
    let dirs = at.dirs();
    if at.layout == 0 {
        to_tensor(p.dtype, vec![p.seq, dirs, p.batch, p.hidden], y)
    } else {
        // [seq, dirs, batch, H] -> [batch, seq, dirs, H]
        let h = p.hidden;
        let mut o = vec![0.0; y.len()];
        for t in 0..p.seq {
            for d in 0..dirs {
                for b in 0..p.batch {
                    o[((b * p.seq + t) * dirs + d) * h..][..h]
                        .copy_from_slice(&y[((t * dirs + d) * p.batch + b) * h..][..h]);
                }
            }
        }
        to_tensor(p.dtype, vec![p.batch, p.seq, dirs, h], o)
    }
}

pub fn state_tensor(at: &RnnAttrs, p: &Prepared, s: Vec<f64>) -> Result<Tensor> {
    let dirs = at.dirs();
    if at.layout == 0 {
        to_tensor(p.dtype, vec![dirs, p.batch, p.hidden], s)
    } else {
        to_tensor(
            p.dtype,
            vec![p.batch, dirs, p.hidden],
            swap01(&s, dirs, p.batch, p.hidden),
        )
    }
}

/// Runs a recurrence: for each direction and batch row, `step(d, x_t, h, state, y_h)` is called
/// per time step in order, with `h` the previous hidden state (updated in place) and `extra`
/// per-row cell state (LSTM's c; empty otherwise). Returns Y [seq, dirs, batch, H] and the
/// final hidden states [dirs, batch, H].
pub fn run<F>(
    at: &RnnAttrs,
    p: &Prepared,
    extra: &mut [f64],
    extra_per_row: usize,
    mut step: F,
) -> (Vec<f64>, Vec<f64>)
where
    F: FnMut(usize, &[f64], &mut [f64], &mut [f64]),
{
    let dirs = at.dirs();
    let (h, batch) = (p.hidden, p.batch);
    let mut y = vec![0.0; p.seq * dirs * batch * h];
    let mut hn = p.h0.clone();
    for d in 0..dirs {
        for b in 0..batch {
            let hs = &mut hn[(d * batch + b) * h..][..h];
            let es = &mut extra[(d * batch + b) * extra_per_row..][..extra_per_row];
            let n = p.lens[b];
            for i in 0..n {
                let t = if at.reversed(d) { n - 1 - i } else { i };
                let xt = &p.x[(t * batch + b) * p.input..][..p.input];
                step(d, xt, hs, es);
                y[((t * dirs + d) * batch + b) * h..][..h].copy_from_slice(hs);
            }
        }
    }
    (y, hn)
}

/// Test support: builds an op from the registry and evaluates it once.
#[cfg(test)]
pub mod testing {
    use crate::prelude::*;
    use smelt_ir::NoSubgraphs;

    pub fn eval(
        op_type: &str,
        opset: i64,
        attrs: Attributes,
        inputs: Vec<Option<Tensor>>,
        n_outputs: usize,
    ) -> Result<Vec<Tensor>> {
        let ctx = OpCtx {
            attrs: &attrs,
            opset,
            n_inputs: inputs.len(),
            n_outputs,
            node_name: "t",
        };
        let op = crate::registry().build("", op_type, &ctx)?;
        op.eval(
            &EvalCtx {
                n_outputs,
                subgraphs: &NoSubgraphs,
            },
            inputs,
        )
    }

    /// Deterministic pseudo-random values in [-1, 1).
    pub fn rand(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    pub fn t(shape: &[usize], seed: u64) -> Tensor {
        Tensor::from_vec(shape.to_vec(), rand(numel(shape), seed)).unwrap()
    }

    pub fn close(a: &Tensor, b: &Tensor) {
        assert_eq!(a.shape(), b.shape());
        let (x, y) = (a.to_f64_vec().unwrap(), b.to_f64_vec().unwrap());
        for (i, (p, q)) in x.iter().zip(&y).enumerate() {
            assert!((p - q).abs() < 1e-5, "element {i}: {p} vs {q}");
        }
    }
}
