//! `smelt generate MODEL.gguf --prompt TEXT [--chat] [--max-tokens N] [--temperature T]
//! [--top-k K] [--top-p P] [--seed S] [--context N] [--threads N]`: generates text with a
//! language model, streaming tokens as they come, then prints prefill and decode tokens/s.

use anyhow::{Context, Result};
use clap::Args;
use smelt::ComputeUnits;
use smelt_llm::{BuildOptions, Decoder, Generator, Llm, LoadOptions, Sampling};
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args)]
pub struct GenerateArgs {
    /// The model: a GGUF file (Llama architecture).
    pub model: PathBuf,
    /// The prompt text.
    #[arg(long)]
    pub prompt: String,
    /// Wrap the prompt as a user turn in the model's chat template.
    #[arg(long)]
    pub chat: bool,
    /// The most tokens to generate (generation also stops at an end-of-turn token).
    #[arg(long, default_value_t = 128, value_name = "N")]
    pub max_tokens: usize,
    /// Sampling temperature; 0 is greedy.
    #[arg(long, default_value_t = 0.0, value_name = "T")]
    pub temperature: f32,
    /// Sample among the K most likely tokens (0: all).
    #[arg(long, default_value_t = 0, value_name = "K")]
    pub top_k: usize,
    /// Sample among the most likely tokens whose probabilities sum to P.
    #[arg(long, default_value_t = 1.0, value_name = "P")]
    pub top_p: f32,
    /// Seed of the sampler.
    #[arg(long, default_value_t = 0, value_name = "S")]
    pub seed: u64,
    /// KV-cache capacity in tokens (prompt and answer together).
    #[arg(long, default_value_t = 1024, value_name = "N")]
    pub context: usize,
    /// CPU threads (default: one per core, or RAYON_NUM_THREADS).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub threads: Option<u32>,
}

pub fn main(a: GenerateArgs) -> Result<()> {
    if !a.model.exists() {
        anyhow::bail!("{}: no such file", a.model.display());
    }
    if !(0.0..=1.0).contains(&a.top_p) || a.temperature < 0.0 {
        anyhow::bail!("--top-p must be in [0, 1] and --temperature at least 0");
    }
    let t = Instant::now();
    let opts = LoadOptions {
        build: BuildOptions {
            max_context: a.context,
            all_logits: false,
        },
        config: smelt::Config {
            // the graph runs on the CPU here; CUDA placement of its ops is checked apart
            compute_units: ComputeUnits::CpuOnly,
            threads: a.threads.map(|n| n as usize),
            ..Default::default()
        },
    };
    let llm =
        Llm::load(&a.model, &opts).with_context(|| format!("loading {}", a.model.display()))?;
    eprintln!(
        "note: {} ({} layers, width {}), Q8_0/Q4_x/Q5_x weights kept quantized (others in f32), loaded in {:.2} s, {} threads",
        a.model.display(),
        llm.config.layers,
        llm.config.dim,
        t.elapsed().as_secs_f64(),
        llm.model.threads()
    );
    let prompt = if a.chat {
        llm.chat_prompt(&a.prompt)?
    } else {
        llm.prompt(&a.prompt)?
    };
    let sampling = Sampling {
        temperature: a.temperature,
        top_k: a.top_k,
        top_p: a.top_p,
        seed: a.seed,
    };
    let mut g = Generator::new(&llm, sampling)?;
    let mut dec = Decoder::default();
    let mut out = std::io::stdout().lock();
    if !a.chat {
        write!(out, "{}", a.prompt)?;
    }
    let mut failed = None;
    let (_, stats) = g.generate(&prompt, a.max_tokens, |id| {
        let text = dec.push(&llm.tokenizer, id, true);
        if let Err(e) = write!(out, "{text}").and_then(|_| out.flush()) {
            failed = Some(e);
            return false;
        }
        true
    })?;
    if let Some(e) = failed {
        return Err(e.into());
    }
    writeln!(out, "{}", dec.finish())?;
    eprintln!(
        "prefill: {} tokens in {:.2} s ({:.1} tokens/s); decode: {} tokens in {:.2} s ({:.1} tokens/s)",
        stats.prompt_tokens,
        stats.prefill.as_secs_f64(),
        stats.prefill_tps(),
        stats.decode_steps,
        stats.decode.as_secs_f64(),
        stats.decode_tps()
    );
    Ok(())
}
