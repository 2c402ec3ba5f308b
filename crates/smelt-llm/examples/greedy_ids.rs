//! Greedy token ids and timings for a list of cases, for bench/llm/compare_llamacpp.py.
//!
//! `greedy_ids MODEL.gguf CASES.tsv [CONTEXT] [quantized|f32]` (the weights as
//! `smelt_llm::Weights`, quantized by default), each line of CASES.tsv:
//! `NAME \t KIND \t N \t PAYLOAD` where KIND is `plain` (PAYLOAD is text), `chat` (text
//! wrapped as a user turn) or `ids` (space-separated token ids), text with `\n`, `\t` and
//! `\\` escaped. For each case it feeds the prompt, then N greedy tokens (end-of-turn
//! tokens do not stop it), and prints
//! `NAME \t PROMPT_IDS \t GENERATED_IDS \t PREFILL_SECONDS \t DECODE_SECONDS`, and last
//! `memory \t RSS_KB \t PEAK_RSS_KB` (Linux: VmRSS and VmHWM of /proc/self/status, after
//! the last case; 0 elsewhere). Threads: `RAYON_NUM_THREADS`.

use smelt_llm::generate::argmax;
use smelt_llm::{BuildOptions, Generator, Llm, LoadOptions, Sampling, Weights};
use std::time::Instant;

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(o) => out.push(o),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn join(ids: &[u32]) -> String {
    ids.iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A `kB` field of /proc/self/status (0 where there is none).
fn status_kb(key: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| {
            l.strip_prefix(key)?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        return Err("usage: greedy_ids MODEL.gguf CASES.tsv [CONTEXT] [quantized|f32]".into());
    }
    let context = args.get(3).map_or(Ok(1024), |c| c.parse())?;
    let how = match args.get(4).map(String::as_str) {
        None | Some("quantized") => Weights::Quantized,
        Some("f32") => Weights::F32,
        Some(w) => return Err(format!("unknown weights {w:?} (quantized or f32)").into()),
    };
    let opts = LoadOptions {
        build: BuildOptions {
            max_context: context,
            all_logits: false,
        },
        config: smelt::Config {
            compute_units: smelt::ComputeUnits::CpuOnly,
            ..Default::default()
        },
    };
    let t = Instant::now();
    let llm = Llm::load_with(&args[1], &opts, how)?;
    eprintln!("loaded in {:.2} s", t.elapsed().as_secs_f64());
    let vocab = llm.config.vocab;
    for line in std::fs::read_to_string(&args[2])?.lines() {
        let f: Vec<&str> = line.splitn(4, '\t').collect();
        let [name, kind, n, payload] = f[..] else {
            return Err(format!("bad case line: {line:?}").into());
        };
        let n: usize = n.parse()?;
        let prompt = match kind {
            "plain" => llm.prompt(&unescape(payload))?,
            "chat" => llm.chat_prompt(&unescape(payload))?,
            "ids" => payload
                .split_whitespace()
                .map(|x| x.parse::<u32>())
                .collect::<Result<_, _>>()?,
            k => return Err(format!("unknown kind {k}").into()),
        };
        let mut g = Generator::new(&llm, Sampling::default())?;
        let t = Instant::now();
        let logits = g.feed(&prompt)?;
        let prefill = t.elapsed().as_secs_f64();
        let last = &logits[logits.len() - vocab..];
        let mut top: Vec<(usize, f32)> = last.iter().copied().enumerate().collect();
        top.sort_by(|a, b| b.1.total_cmp(&a.1));
        // the margins that decide the first token, to compare with llama.cpp's
        eprintln!("{name}: top logits after the prompt {:?}", &top[..4]);
        let mut next = argmax(last);
        let mut out = vec![];
        let t = Instant::now();
        for i in 0..n {
            out.push(next);
            if i + 1 == n {
                break;
            }
            let logits = g.feed(&[next])?;
            next = argmax(&logits[logits.len() - vocab..]);
        }
        let decode = t.elapsed().as_secs_f64();
        println!(
            "{name}\t{}\t{}\t{prefill:.4}\t{decode:.4}",
            join(&prompt),
            join(&out)
        );
    }
    println!("memory\t{}\t{}", status_kb("VmRSS:"), status_kb("VmHWM:"));
    Ok(())
}
