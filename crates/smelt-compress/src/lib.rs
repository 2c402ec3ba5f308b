//! Weight compression for smelt graphs (coremltools.optimize's role): linear quantization
//! (int8 / int4; per tensor, per channel or per block; symmetric or affine) and
//! palettization (1-8 bit lookup tables by k-means or uniform spacing; per tensor or per
//! group of output channels).
//!
//! [`compress`] rewrites a graph: each chosen float weight (an initializer read as a weight
//! by one of the selected ops, with at least `weight_threshold` elements) is replaced by
//! packed constants and an `ai.smelt::LinearDequantize` / `LutToDense` node that produces
//! the original value. Nothing else changes, so the graph runs anywhere the decode ops run;
//! the CPU backend keeps such weights compressed and decodes them per tile.

pub mod calibrate;
pub mod gptq;
pub mod grid;
pub mod linear;
pub mod palettize;
pub mod select;

use palettize::Method;
use select::{candidates, Layout};
use smelt_core::{DType, Error, Result, Tensor};
use smelt_ir::{Attr, Attributes, Graph, NoSubgraphs, Node, OpCtx};
use smelt_ops::quant::packed::pack;
use std::sync::Arc;
use std::time::Instant;

/// Which parameters each weight gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Granularity {
    PerTensor,
    /// One scale per output channel (linear).
    PerChannel,
    /// One scale per output channel and block of `n` input elements (linear).
    PerBlock(usize),
    /// One table per `n` output channels (palettization).
    PerGroupedChannel(usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Linear {
        bits: u32,
        symmetric: bool,
        granularity: Granularity,
    },
    Palettize {
        bits: u32,
        method: Method,
        granularity: Granularity,
    },
}

#[derive(Clone, Debug)]
pub struct Options {
    pub mode: Mode,
    /// Weights with fewer elements are left alone (coremltools' default: 2048).
    pub weight_threshold: usize,
    /// Op types whose weights are compressed.
    pub ops: Vec<String>,
    /// Tensor or node names to leave alone.
    pub skip: Vec<String>,
    /// Sample inputs (one feed per entry): MatMul / Gemm weights then get their codes chosen
    /// to compensate rounding errors on these inputs' activations ([`gptq`]).
    pub calibration: Vec<Vec<(String, Tensor)>>,
}

/// The op types whose weights can be compressed (all of them by default).
pub const DEFAULT_OPS: [&str; 5] = ["Conv", "ConvTranspose", "MatMul", "Gemm", "Gather"];

impl Options {
    pub fn new(mode: Mode) -> Options {
        Options {
            mode,
            weight_threshold: 2048,
            ops: DEFAULT_OPS.iter().map(|s| s.to_string()).collect(),
            skip: vec![],
            calibration: vec![],
        }
    }

    /// Refuses bit widths a mode does not take and op types outside [`DEFAULT_OPS`].
    pub fn check(&self) -> Result<()> {
        match self.mode {
            Mode::Linear { bits, .. } if !(bits == 4 || bits == 8) => {
                return Err(Error::invalid(format!(
                    "linear quantization takes 4 or 8 bits, got {bits}"
                )))
            }
            Mode::Palettize { bits, .. } if !(1..=8).contains(&bits) => {
                return Err(Error::invalid(format!(
                    "palettization takes 1 to 8 bits, got {bits}"
                )))
            }
            _ => {}
        }
        let bad: Vec<&str> = self
            .ops
            .iter()
            .filter(|o| !DEFAULT_OPS.contains(&o.as_str()))
            .map(|o| o.as_str())
            .collect();
        if !bad.is_empty() {
            return Err(Error::invalid(format!(
                "--ops {}: compress reads weights of {} only",
                bad.join(","),
                DEFAULT_OPS.join(", ")
            )));
        }
        if self.ops.is_empty() {
            return Err(Error::invalid(format!(
                "--ops is empty: give some of {}",
                DEFAULT_OPS.join(", ")
            )));
        }
        Ok(())
    }
}

/// One compressed weight.
#[derive(Clone, Debug)]
pub struct TensorReport {
    pub name: String,
    /// The op that reads it as a weight.
    pub op_type: String,
    pub shape: Vec<usize>,
    /// Parameter grid used.
    pub grid: Vec<usize>,
    pub bytes_before: usize,
    pub bytes_after: usize,
    /// 10·log10(Σw² / Σ(w-ŵ)²); infinite when exact.
    pub snr_db: f64,
    /// Time to encode it (quantize or cluster, and pack); the check below is not counted.
    pub seconds: f64,
    /// Why the granularity asked for was changed, if it was; "calibrated" when the codes
    /// were chosen with error compensation.
    pub note: String,
}

#[derive(Clone, Debug, Default)]
pub struct Report {
    pub tensors: Vec<TensorReport>,
    /// Float weights left alone: (name, why).
    pub skipped: Vec<(String, String)>,
    /// Names in [`Options::skip`] that matched no weight nor a node reading one.
    pub unused_skip: Vec<String>,
    pub seconds: f64,
}

impl Report {
    pub fn bytes_before(&self) -> usize {
        self.tensors.iter().map(|t| t.bytes_before).sum()
    }
    pub fn bytes_after(&self) -> usize {
        self.tensors.iter().map(|t| t.bytes_after).sum()
    }
}

/// The parameter grid for `layout` under `g`, and a note when it had to change.
fn grid_for(l: &Layout, g: Granularity) -> (Vec<usize>, String) {
    let shape = &l.shape;
    let mut grid = vec![1; shape.len()];
    match g {
        Granularity::PerTensor => (grid, String::new()),
        Granularity::PerChannel => {
            grid[l.channel] = shape[l.channel];
            (grid, String::new())
        }
        Granularity::PerBlock(b) => {
            grid[l.channel] = shape[l.channel];
            let d = shape[l.input];
            if b > 0 && d % b == 0 {
                grid[l.input] = d / b;
                (grid, String::new())
            } else {
                (grid, format!("block {b} does not divide {d}: per-channel"))
            }
        }
        Granularity::PerGroupedChannel(n) => {
            let d = shape[l.channel];
            if n > 0 && d % n == 0 {
                grid[l.channel] = d / n;
                (grid, String::new())
            } else {
                // the largest group size under n that divides the channels
                let g = (1..n.min(d).max(1)).rev().find(|g| d % g == 0).unwrap_or(1);
                grid[l.channel] = d / g;
                (
                    grid,
                    format!("group of {n} does not divide {d} channels: groups of {g}"),
                )
            }
        }
    }
}

fn snr_db(w: &[f32], r: &[f32]) -> f64 {
    let (mut s, mut e) = (0.0f64, 0.0f64);
    for (&a, &b) in w.iter().zip(r) {
        s += (a as f64) * (a as f64);
        e += ((a - b) as f64) * ((a - b) as f64);
    }
    if e == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (s / e).log10()
    }
}

/// A compressed weight as the tensors and attributes of its decode node.
pub struct Encoded {
    pub op_type: &'static str,
    pub attrs: Attributes,
    /// (suffix, tensor): codes first.
    pub inputs: Vec<(&'static str, Tensor)>,
}

/// Re-chooses the codes of a 2-D weight with error compensation ([`gptq`]) under the
/// Gram matrix `h` of its reader's input; `dequant(flat index, value) -> (code, value')`
/// rounds one element with the fixed parameters.
fn compensate(
    w: &[f32],
    l: &Layout,
    h: &[f64],
    codes: &mut [u8],
    dequant: impl Fn(usize, f32) -> (u8, f32),
) -> Result<()> {
    let (r, c) = (l.shape[0], l.shape[1]);
    // working layout [K, N]: K runs along the input axis; `at(i, j)` is working element
    // (i, j)'s flat index in the weight's own layout
    let input0 = l.input == 0;
    let at = move |i: usize, j: usize| if input0 { i * c + j } else { j * c + i };
    let (k, n) = if input0 { (r, c) } else { (c, r) };
    let mut wk = vec![0.0f32; k * n];
    for i in 0..k {
        for j in 0..n {
            wk[i * n + j] = w[at(i, j)];
        }
    }
    gptq::gptq(wk, k, n, h.to_vec(), |i, j, v| {
        let idx = at(i, j);
        let (q, d) = dequant(idx, v);
        codes[idx] = q;
        d
    })
}

/// The grid cell of each element of a `shape` weight.
fn cell_of(shape: &[usize], grid: &[usize]) -> impl Fn(usize) -> usize {
    let map = grid::Cells::new(shape, grid);
    let last = shape[shape.len() - 1].max(1);
    move |idx| {
        let (base, bl) = map.row(idx / last);
        base + (idx % last) / bl
    }
}

/// Compresses one weight `w` of shape `l.shape` on `grid`; with `h` (the input Gram matrix
/// of a MatMul / Gemm weight from calibration) the codes are chosen with error compensation.
pub fn encode(
    w: &[f32],
    l: &Layout,
    grid: &[usize],
    mode: Mode,
    to: DType,
    h: Option<&[f64]>,
) -> Result<Encoded> {
    let shape = &l.shape;
    let ints = |v: &[usize]| Attr::Ints(v.iter().map(|&d| d as i64).collect());
    let (op_type, bits, inputs) = match mode {
        Mode::Linear {
            bits, symmetric, ..
        } => {
            let mut q = linear::quantize(w, shape, grid, bits, symmetric);
            if let Some(h) = h {
                let (lo, hi) = linear::code_range(bits, symmetric);
                let cell = cell_of(shape, grid);
                let (scale, zero) = (&q.scale, &q.zero);
                compensate(w, l, h, &mut q.codes, |idx, v| {
                    let c = cell(idx);
                    let z = zero.as_ref().map_or(0.0, |z| z[c] as f32);
                    let code = linear::code(v, 1.0 / scale[c], z, lo, hi);
                    (linear::to_i8(code) as u8, (code - z) * scale[c])
                })?;
            }
            let codes = if bits == 8 {
                q.codes
            } else {
                pack(q.codes.iter().map(|&c| c as u32), bits)
            };
            let mut ins = vec![
                ("codes", Tensor::from_vec(vec![codes.len()], codes)?),
                ("scale", Tensor::from_vec(grid.to_vec(), q.scale)?),
            ];
            if let Some(z) = q.zero {
                ins.push(("zero_point", Tensor::from_vec(grid.to_vec(), z)?));
            }
            ("LinearDequantize", bits, ins)
        }
        Mode::Palettize { bits, method, .. } => {
            // with calibration, k-means weighs each element by its input's energy (H[k][k])
            let importance: Option<Vec<f32>> = h.map(|h| {
                let (r, c) = (shape[0], shape[1]);
                let k = if l.input == 0 { r } else { c };
                (0..r * c)
                    .map(|e| {
                        let i = if l.input == 0 { e / c } else { e % c };
                        (h[i * k + i] as f32).max(0.0)
                    })
                    .collect()
            });
            let mut p = palettize::palettize(w, shape, grid, bits, method, importance.as_deref());
            if let Some(h) = h {
                let cell = cell_of(shape, grid);
                let k = 1usize << bits;
                let lut = &p.lut;
                compensate(w, l, h, &mut p.codes, |idx, v| {
                    let t = &lut[cell(idx) * k..(cell(idx) + 1) * k];
                    let mut best = 0;
                    for (i, &e) in t.iter().enumerate() {
                        if (e - v).abs() < (t[best] - v).abs() {
                            best = i;
                        }
                    }
                    (best as u8, t[best])
                })?;
            }
            let codes = pack(p.codes.iter().map(|&c| c as u32), bits);
            let mut ls = grid.to_vec();
            ls.push(1 << bits);
            let ins = vec![
                ("indices", Tensor::from_vec(vec![codes.len()], codes)?),
                ("lut", Tensor::from_vec(ls, p.lut)?),
            ];
            ("LutToDense", bits, ins)
        }
    };
    let mut attrs = Attributes::new()
        .with("shape", ints(shape))
        .with("bits", Attr::Int(bits as i64))
        .with("to", Attr::Int(to.to_onnx()));
    if op_type == "LinearDequantize" {
        attrs = attrs.with("signed", Attr::Int(1));
    }
    Ok(Encoded {
        op_type,
        attrs,
        inputs,
    })
}

/// The weight `enc` decodes to, through its op's reference evaluation.
pub fn decode(enc: &Encoded) -> Result<Vec<f32>> {
    let op = smelt_ops::registry().build(
        "ai.smelt",
        enc.op_type,
        &OpCtx {
            attrs: &enc.attrs,
            opset: 1,
            n_inputs: enc.inputs.len(),
            n_outputs: 1,
            node_name: "",
        },
    )?;
    let ts: Vec<Option<Tensor>> = enc.inputs.iter().map(|(_, t)| Some(t.clone())).collect();
    let out = op.eval(
        &smelt_ir::EvalCtx {
            n_outputs: 1,
            subgraphs: &NoSubgraphs,
        },
        ts,
    )?;
    Ok(smelt_ops::math::cast::cast(&out[0], DType::F32, false)?
        .as_slice::<f32>()?
        .to_vec())
}

fn granularity(m: Mode) -> Granularity {
    match m {
        Mode::Linear { granularity, .. } | Mode::Palettize { granularity, .. } => granularity,
    }
}

/// Turns top-level `Constant` nodes holding a float tensor (`value`) into initializers, so
/// weights exporters put in Constant nodes (PP-OCR's, say) can be compressed like others.
fn hoist_constants(g: &mut Graph) {
    let mut keep = Vec::with_capacity(g.nodes.len());
    for n in std::mem::take(&mut g.nodes) {
        let hoist = n.op_type == "Constant"
            && n.domain.is_empty()
            && n.attrs.0.len() == 1
            && n.outputs.len() == 1;
        match (
            hoist,
            n.attrs.tensor("value"),
            n.outputs.first().copied().flatten(),
        ) {
            (true, Ok(Some(t)), Some(out)) if t.dtype().is_float() && !g.outputs.contains(&out) => {
                g.initializers.insert(out, t);
            }
            _ => keep.push(n),
        }
    }
    g.nodes = keep;
}

/// Compresses the weights of `g` chosen by `opts`. `progress` sees (weights done, total).
/// Choosing no weight at all is an error that says why (no reader of the selected op types,
/// every weight under the threshold or skipped).
pub fn compress(
    g: &Graph,
    opts: &Options,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(Graph, Report)> {
    let t0 = Instant::now();
    opts.check()?;
    let mut hoisted = g.clone();
    hoist_constants(&mut hoisted);
    let g = &hoisted;
    let sel = candidates(g, opts);
    if sel.chosen.is_empty() {
        return Err(Error::invalid(format!(
            "no weight was compressed: {}",
            sel.why_none(opts)
        )));
    }
    let chosen = &sel.chosen;
    let grams = calibrate::grams(g, chosen, &opts.calibration)?;
    let mut out = g.clone();
    let mut report = Report {
        skipped: sel.skipped,
        unused_skip: sel.unused_skip,
        ..Default::default()
    };
    let mut decode_nodes = Vec::with_capacity(chosen.len());
    for (i, l) in chosen.iter().enumerate() {
        progress(i, chosen.len());
        let w = &g.initializers[&l.value];
        let name = g.values[l.value].name.clone();
        let wf = match w.dtype() {
            DType::F32 => w.clone(),
            _ => smelt_ops::math::cast::cast(w, DType::F32, false)?,
        };
        let wv = wf.as_slice::<f32>()?;
        if let Some(bad) = wv.iter().position(|v| !v.is_finite()) {
            return Err(Error::invalid(format!(
                "weight '{name}' has a non-finite value at element {bad}"
            )));
        }
        let (grid, note) = grid_for(l, granularity(opts.mode));
        let t = Instant::now();
        let h = grams.get(&l.value).map(|h| h.as_slice());
        let enc = encode(wv, l, &grid, opts.mode, w.dtype(), h)
            .map_err(|e| Error::invalid(format!("weight '{name}': {e}")))?;
        let seconds = t.elapsed().as_secs_f64();
        let decoded = decode(&enc).map_err(|e| Error::invalid(format!("weight '{name}': {e}")))?;
        let mut ins = Vec::with_capacity(enc.inputs.len());
        for (suffix, t) in &enc.inputs {
            ins.push(Some(
                out.add_initializer(format!("{name}.{suffix}"), t.clone()),
            ));
        }
        out.initializers.remove(&l.value);
        let op = smelt_ops::registry().build(
            "ai.smelt",
            enc.op_type,
            &OpCtx {
                attrs: &enc.attrs,
                opset: 1,
                n_inputs: ins.len(),
                n_outputs: 1,
                node_name: &name,
            },
        )?;
        decode_nodes.push(Node {
            name: format!("{name}.decode"),
            op_type: enc.op_type.to_string(),
            domain: "ai.smelt".into(),
            attrs: enc.attrs.clone(),
            inputs: ins,
            outputs: vec![Some(l.value)],
            op: Arc::from(op),
            opset: 1,
        });
        report.tensors.push(TensorReport {
            name,
            op_type: l.op_type.clone(),
            shape: l.shape.clone(),
            grid,
            bytes_before: w.byte_size(),
            bytes_after: enc.inputs.iter().map(|(_, t)| t.byte_size()).sum(),
            snr_db: snr_db(wv, &decoded),
            note: if h.is_some() {
                [note.as_str(), "calibrated"]
                    .iter()
                    .filter(|s| !s.is_empty())
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("; ")
            } else {
                note
            },
            seconds,
        });
    }
    progress(chosen.len(), chosen.len());
    decode_nodes.append(&mut out.nodes);
    out.nodes = decode_nodes;
    smelt_ir::verify(&out)?;
    report.seconds = t0.elapsed().as_secs_f64();
    Ok((out, report))
}

/// Whether `n` is a decode node [`compress`] adds.
fn is_decode(n: &Node) -> bool {
    n.domain == "ai.smelt" && matches!(n.op_type.as_str(), "LinearDequantize" | "LutToDense")
}

/// `compressed` (made by [`compress`] from `original`) with only the weights named in `keep`
/// compressed: every other weight it compressed is the original value again. What one
/// weight's compression costs at the outputs is measured on such a graph.
pub fn keep_only(original: &Graph, compressed: &Graph, keep: &[&str]) -> Result<Graph> {
    let mut hoisted = original.clone();
    hoist_constants(&mut hoisted);
    let mut out = compressed.clone();
    let mut restore = Vec::new();
    out.nodes.retain(|n| {
        let Some(Some(v)) = n.outputs.first().copied() else {
            return true;
        };
        let undo = is_decode(n)
            && !keep.contains(&compressed.values[v].name.as_str())
            && hoisted.initializers.contains_key(&v);
        if undo {
            restore.push((v, n.inputs.clone()));
        }
        !undo
    });
    for (v, ins) in restore {
        for i in ins.into_iter().flatten() {
            out.initializers.remove(&i);
        }
        out.initializers.insert(v, hoisted.initializers[&v].clone());
    }
    smelt_ir::verify(&out)?;
    Ok(out)
}
