//! `smelt run`: runs a model on the CPU on inputs from .npy files or seeded random ones, prints
//! a summary of every output and saves them as .npy files.

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use smelt_core::{f16, npy, DType, Data, Dim, Tensor, ValueInfo};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct RunArgs {
    /// The .onnx file.
    pub model: PathBuf,
    /// An input from a .npy file: NAME=FILE.npy (or just FILE.npy for a one-input model).
    #[arg(short, long = "input", value_name = "NAME=FILE.npy")]
    pub inputs: Vec<String>,
    /// Fill the inputs not given with --input with seeded random values of the declared
    /// dtype and shape (floats in [-1, 1), integers in [0, 10)).
    #[arg(long)]
    pub random: bool,
    /// Seed of --random.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Size of a symbolic dimension for --random: NAME=N (others are 1).
    #[arg(long = "dim", value_name = "NAME=N")]
    pub dims: Vec<String>,
    /// Where the outputs are saved, one NAME.npy per output.
    #[arg(short, long, default_value = "out")]
    pub output_dir: PathBuf,
    /// Do not save the outputs.
    #[arg(long)]
    pub no_save: bool,
    /// After the first run, time this many more runs and print median / min / max latency
    /// and the process's peak resident memory.
    #[arg(long, default_value_t = 0)]
    pub repeat: usize,
}

/// Peak resident set size of this process in bytes (Linux `VmHWM`), if known.
fn peak_rss() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// splitmix64: a small, seeded generator (random inputs must be reproducible).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A random tensor of a declared type: floats uniform in [-1, 1), integers in [0, 10), bools
/// fair coins. Symbolic dims take their size from `dims` (default 1), unknown dims are 1.
pub fn random_tensor(
    name: &str,
    info: &ValueInfo,
    dims: &HashMap<String, usize>,
    rng: &mut Rng,
) -> Result<Tensor> {
    let dtype = info.dtype.ok_or_else(|| {
        anyhow!("input '{name}' has no declared dtype: give it with --input {name}=FILE.npy")
    })?;
    let shape_decl = info.shape.as_ref().ok_or_else(|| {
        anyhow!("input '{name}' has no declared shape: give it with --input {name}=FILE.npy")
    })?;
    let shape: Vec<usize> = shape_decl
        .iter()
        .map(|d| match d {
            Dim::Fixed(n) => *n,
            Dim::Sym(s) => dims.get(s).copied().unwrap_or(1),
            Dim::Unknown => 1,
        })
        .collect();
    let n = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|&n| n <= 1 << 31)
        .ok_or_else(|| anyhow!("input '{name}': random shape {shape:?} is too large"))?;
    let f = |rng: &mut Rng| rng.unit() * 2.0 - 1.0;
    let int = |rng: &mut Rng| (rng.next_u64() % 10) as i64;
    let data = match dtype {
        DType::F32 => Data::F32((0..n).map(|_| f(rng) as f32).collect()),
        DType::F64 => Data::F64((0..n).map(|_| f(rng)).collect()),
        DType::F16 => Data::F16((0..n).map(|_| f16::from_f64(f(rng))).collect()),
        DType::BF16 => Data::BF16((0..n).map(|_| smelt_core::bf16::from_f64(f(rng))).collect()),
        DType::I8 => Data::I8((0..n).map(|_| int(rng) as i8).collect()),
        DType::U8 => Data::U8((0..n).map(|_| int(rng) as u8).collect()),
        DType::I16 => Data::I16((0..n).map(|_| int(rng) as i16).collect()),
        DType::U16 => Data::U16((0..n).map(|_| int(rng) as u16).collect()),
        DType::I32 => Data::I32((0..n).map(|_| int(rng) as i32).collect()),
        DType::U32 => Data::U32((0..n).map(|_| int(rng) as u32).collect()),
        DType::I64 => Data::I64((0..n).map(|_| int(rng)).collect()),
        DType::U64 => Data::U64((0..n).map(|_| int(rng) as u64).collect()),
        DType::Bool => Data::Bool((0..n).map(|_| rng.next_u64() & 1 == 1).collect()),
        d => bail!(
            "input '{name}': cannot make random {d} values; give it with --input {name}=FILE.npy"
        ),
    };
    Ok(Tensor::new(dtype, shape, data)?)
}

fn parse_dims(list: &[String]) -> Result<HashMap<String, usize>> {
    let mut m = HashMap::new();
    for d in list {
        let (k, v) = d
            .rsplit_once('=')
            .ok_or_else(|| anyhow!("--dim '{d}': expected NAME=N"))?;
        let n: usize = v
            .trim()
            .parse()
            .map_err(|_| anyhow!("--dim '{d}': '{v}' is not a size"))?;
        m.insert(k.trim().to_string(), n);
    }
    Ok(m)
}

/// A file name for an output name (ONNX names may hold '/', ':' ...).
pub fn file_name(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with('.') {
        format!("out{s}")
    } else {
        s
    }
}

fn fmt_num(x: f64) -> String {
    if x == 0.0 || (x.abs() >= 1e-3 && x.abs() < 1e5) || !x.is_finite() {
        let s = format!("{x:.4}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        if s.is_empty() || s == "-" {
            "0".into()
        } else {
            s.to_string()
        }
    } else {
        format!("{x:.3e}")
    }
}

/// "f32[1,40,6625]  min .. max .. mean ..  first [..]".
pub fn summary(t: &Tensor) -> String {
    let head = format!("{}{:?}", t.dtype(), t.shape()).replace(' ', "");
    let first = 6;
    match t.dtype() {
        DType::String => {
            let v = t.as_slice::<String>().unwrap_or(&[]);
            format!("{head}  first {:?}", &v[..v.len().min(first)])
        }
        _ => match t.to_f64_vec() {
            Ok(v) if !v.is_empty() => {
                let finite: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
                let (mn, mx) = finite
                    .iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
                        (a.min(x), b.max(x))
                    });
                let mean = finite.iter().sum::<f64>() / finite.len().max(1) as f64;
                let nonfinite = v.len() - finite.len();
                let firsts: Vec<String> = v.iter().take(first).map(|&x| fmt_num(x)).collect();
                let more = if v.len() > first { ", ..." } else { "" };
                let nf = if nonfinite > 0 {
                    format!("  ({nonfinite} NaN/inf)")
                } else {
                    String::new()
                };
                if finite.is_empty() {
                    format!("{head}  [{}{more}]{nf}", firsts.join(", "))
                } else {
                    format!(
                        "{head}  min {} max {} mean {}  [{}{more}]{nf}",
                        fmt_num(mn),
                        fmt_num(mx),
                        fmt_num(mean),
                        firsts.join(", ")
                    )
                }
            }
            Ok(_) => format!("{head}  (empty)"),
            Err(_) => head,
        },
    }
}

/// Reads the --input arguments into (name, tensor), checking the names against the model.
fn read_inputs(args: &[String], model_inputs: &[String]) -> Result<Vec<(String, Tensor)>> {
    let mut out: Vec<(String, Tensor)> = Vec::new();
    for a in args {
        let (name, file) = match a.split_once('=') {
            Some((n, f)) if model_inputs.iter().any(|m| m == n) => (n.to_string(), f.to_string()),
            _ if model_inputs.len() == 1
                && !model_inputs.iter().any(|m| a.starts_with(&format!("{m}=")))
                && Path::new(a).exists() =>
            {
                (model_inputs[0].clone(), a.clone())
            }
            Some((n, _)) => bail!(
                "--input '{a}': the model has no input '{n}' (its inputs: {})",
                model_inputs.join(", ")
            ),
            None => bail!(
                "--input '{a}': expected NAME=FILE.npy (the model's inputs: {})",
                model_inputs.join(", ")
            ),
        };
        if out.iter().any(|(n, _)| *n == name) {
            bail!("input '{name}' is given twice");
        }
        let t = npy::read(&file).with_context(|| format!("input '{name}'"))?;
        out.push((name, t));
    }
    Ok(out)
}

pub fn main(a: RunArgs) -> Result<()> {
    let model = smelt_onnx::load_path(&a.model)
        .with_context(|| format!("importing {}", a.model.display()))?;
    let g = &model.graph;
    let names: Vec<String> = g.input_names().iter().map(|s| s.to_string()).collect();
    let dims = parse_dims(&a.dims)?;
    let mut inputs = read_inputs(&a.inputs, &names)?;
    for (n, t) in &inputs {
        println!("input  {n:<24} {}", summary(t));
    }
    let mut rng = Rng::new(a.seed);
    let mut missing = Vec::new();
    for &id in &g.inputs {
        let v = &g.values[id];
        if inputs.iter().any(|(n, _)| *n == v.name) {
            continue;
        }
        if a.random {
            let t = random_tensor(&v.name, &v.info, &dims, &mut rng)?;
            println!(
                "input  {:<24} {} (random, seed {})",
                v.name,
                summary(&t),
                a.seed
            );
            inputs.push((v.name.clone(), t));
        } else {
            missing.push(format!("{} {}", v.name, v.info));
        }
    }
    if !missing.is_empty() {
        bail!(
            "missing input(s): {}; give them with --input NAME=FILE.npy or use --random",
            missing.join(", ")
        );
    }
    let plan = smelt_cpu::Plan::new(g);
    let timed = if a.repeat > 0 {
        Some(inputs.clone())
    } else {
        None
    };
    let t0 = std::time::Instant::now();
    let outputs = plan.run(inputs).context("running the model")?;
    let dt = t0.elapsed();
    if let Some(inputs) = timed {
        let mut ms = Vec::with_capacity(a.repeat);
        for _ in 0..a.repeat {
            let t = std::time::Instant::now();
            plan.run(inputs.clone()).context("running the model")?;
            ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
        ms.sort_by(|x, y| x.total_cmp(y));
        let peak = peak_rss().map_or("unknown".to_string(), |b| {
            format!("{:.1} MiB", b as f64 / (1 << 20) as f64)
        });
        println!(
            "latency over {} runs: median {:.3} ms, min {:.3} ms, max {:.3} ms; peak RSS {peak}",
            ms.len(),
            ms[ms.len() / 2],
            ms[0],
            ms[ms.len() - 1]
        );
    }
    if !a.no_save {
        std::fs::create_dir_all(&a.output_dir)
            .with_context(|| format!("creating {}", a.output_dir.display()))?;
    }
    for (name, t) in &outputs {
        println!("output {name:<24} {}", summary(t));
        if !a.no_save {
            let p = a.output_dir.join(format!("{}.npy", file_name(name)));
            match npy::write(&p, t) {
                Ok(()) => println!("       -> {}", p.display()),
                Err(e) => println!("       (not saved: {e})"),
            }
        }
    }
    println!(
        "ran {} nodes on the CPU in {:.3} s",
        g.nodes.len(),
        dt.as_secs_f64()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_inputs_follow_the_declared_type() {
        let info = ValueInfo::new(
            DType::I64,
            vec![Dim::Sym("batch".into()), Dim::Fixed(3), Dim::Unknown],
        );
        let dims: HashMap<String, usize> = [("batch".to_string(), 4)].into();
        let t = random_tensor("x", &info, &dims, &mut Rng::new(1)).unwrap();
        assert_eq!(t.shape(), &[4, 3, 1]);
        assert!(t
            .as_slice::<i64>()
            .unwrap()
            .iter()
            .all(|&x| (0..10).contains(&x)));
        let a = random_tensor(
            "x",
            &ValueInfo::fixed(DType::F32, &[33]),
            &dims,
            &mut Rng::new(7),
        )
        .unwrap();
        let b = random_tensor(
            "x",
            &ValueInfo::fixed(DType::F32, &[33]),
            &dims,
            &mut Rng::new(7),
        )
        .unwrap();
        assert_eq!(a, b);
        let v = a.as_slice::<f32>().unwrap();
        assert!(v.iter().all(|&x| (-1.0..1.0).contains(&x)) && v.iter().any(|&x| x != v[0]));
        assert!(random_tensor("x", &ValueInfo::unknown(), &dims, &mut Rng::new(0)).is_err());
    }

    #[test]
    fn summaries_and_names() {
        let t = Tensor::from_vec(vec![2, 2], vec![1.0f32, -2.5, 3.0, f32::NAN]).unwrap();
        let s = summary(&t);
        assert!(s.starts_with("f32[2,2]  min -2.5 max 3 mean 0.5"), "{s}");
        assert!(s.contains("1 NaN/inf"), "{s}");
        assert_eq!(
            file_name("save_infer_model/scale_0.tmp_1"),
            "save_infer_model_scale_0.tmp_1"
        );
        assert_eq!(file_name("input:0"), "input_0");
        assert!(parse_dims(&["n=x".into()]).is_err());
        assert_eq!(parse_dims(&["n=3".into()]).unwrap()["n"], 3);
    }
}
