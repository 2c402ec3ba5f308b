//! Language models on smelt.
//!
//! - [`graph`]: a GGUF decoder (Llama family) as a portable smelt graph of standard ONNX ops,
//!   the KV cache declared as states of fixed capacity; one graph serves prefill and decode.
//! - [`tokenizer`]: GPT-2-style byte-level BPE from the GGUF metadata.
//! - [`chat`]: the chat template of the metadata, rendered with minijinja.
//! - [`generate`]: [`Generator`], the sampling loop over `smelt::Model` + `smelt::State`.
//!
//! ```no_run
//! use smelt_llm::{Llm, LoadOptions, Generator, Sampling};
//! let llm = Llm::load("SmolLM2-135M-Instruct.Q4_1.gguf", &LoadOptions::default())?;
//! let prompt = llm.chat_prompt("What is the capital of France?")?;
//! let mut g = Generator::new(&llm, Sampling::default())?;
//! let (ids, _stats) = g.generate(&prompt, 16, |_| true)?;
//! println!("{}", llm.tokenizer.decode(&ids, true));
//! # Ok::<(), smelt_llm::Error>(())
//! ```
//!
//! Weights of the 32-element block types (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1) stay quantized in
//! the graph and the CPU reads them compressed; the others are dequantized to f32 at load
//! (see docs/llm.md for the layout, what is done and what is next).

pub mod chat;
pub mod config;
pub mod error;
pub mod generate;
pub mod graph;
pub mod tokenizer;

pub use chat::{ChatTemplate, Message};
pub use config::LlamaConfig;
pub use error::{Error, Result};
pub use generate::{Generator, Sampler, Sampling, Stats};
pub use graph::{BuildOptions, Weights};
pub use tokenizer::{Decoder, Tokenizer};

use smelt_gguf::Gguf;
use std::path::Path;

/// How [`Llm::load`] builds the model.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    pub build: BuildOptions,
    /// Passed to `smelt::Model::from_graph` (threads, compute units).
    pub config: smelt::Config,
}

/// A language model ready to generate: the smelt model, its config, tokenizer and chat
/// template.
pub struct Llm {
    pub model: smelt::Model,
    pub config: LlamaConfig,
    pub tokenizer: Tokenizer,
    /// `tokenizer.chat_template`, if the file has one.
    pub chat_template: Option<ChatTemplate>,
    pub options: BuildOptions,
}

impl Llm {
    /// Reads a GGUF file and builds its graph; an architecture other than those in
    /// [`config::SUPPORTED`] is [`Error::UnsupportedArchitecture`], before any weight is read.
    pub fn load(path: impl AsRef<Path>, opts: &LoadOptions) -> Result<Llm> {
        Llm::load_with(path, opts, Weights::default())
    }

    /// [`Llm::load`] with the weights held as `how` says ([`Weights::F32`]: all dequantized).
    pub fn load_with(path: impl AsRef<Path>, opts: &LoadOptions, how: Weights) -> Result<Llm> {
        let f = Gguf::open(path)?;
        let config = LlamaConfig::from_gguf(&f)?;
        if opts.build.max_context == 0 {
            return Err(Error::Invalid("max_context must be at least 1".into()));
        }
        let tokenizer = Tokenizer::from_gguf(&f)?;
        let chat_template = match f.get("tokenizer.chat_template") {
            Some(_) => Some(ChatTemplate::new(f.get_str("tokenizer.chat_template")?)?),
            None => None,
        };
        let (graph, info) = graph::build_with(&f, &config, &opts.build, how)?;
        let model = smelt::Model::from_graph(graph, info, opts.config.clone())?;
        Ok(Llm {
            model,
            config,
            tokenizer,
            chat_template,
            options: opts.build.clone(),
        })
    }

    /// The token ids of `text` as a plain prompt (special tokens written in it parsed, BOS
    /// as the file says).
    pub fn prompt(&self, text: &str) -> Result<Vec<u32>> {
        self.tokenizer.encode(text, true, true)
    }

    /// The token ids of one user turn in the chat template, opening the assistant's turn.
    pub fn chat_prompt(&self, user: &str) -> Result<Vec<u32>> {
        let t = self.chat_template.as_ref().ok_or_else(|| {
            Error::Invalid("the model file has no chat template (tokenizer.chat_template)".into())
        })?;
        let tok = &self.tokenizer;
        let name = |id: Option<u32>| id.and_then(|i| tok.token(i)).unwrap_or("").to_string();
        let text = t.render(
            &[Message::new("user", user)],
            true,
            &name(tok.bos),
            &name(tok.eos),
        )?;
        tok.encode(&text, true, true)
    }
}
