//! The sampling loop: [`Generator`] feeds a prompt (prefill, one prediction), then one token
//! per prediction (decode), carrying the KV cache in a [`smelt::State`].

use crate::error::{Error, Result};
use crate::graph::names;
use crate::Llm;
use smelt::{State, Tensor};
use std::time::{Duration, Instant};

/// How the next token is chosen from the logits.
#[derive(Clone, Debug, PartialEq)]
pub struct Sampling {
    /// 0: greedy (the arg max; the other fields are ignored).
    pub temperature: f32,
    /// Keep the `k` most likely tokens (0: all).
    pub top_k: usize,
    /// Keep the smallest set of most likely tokens whose probability reaches `p` (1: all).
    pub top_p: f32,
    pub seed: u64,
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling {
            temperature: 0.0,
            top_k: 0,
            top_p: 1.0,
            seed: 0,
        }
    }
}

/// A small seeded generator (SplitMix64): the same seed gives the same tokens.
#[derive(Clone, Debug)]
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Picks tokens from logits by [`Sampling`].
#[derive(Clone, Debug)]
pub struct Sampler {
    params: Sampling,
    rng: Rng,
}

impl Sampler {
    pub fn new(params: Sampling) -> Sampler {
        let rng = Rng(params.seed);
        Sampler { params, rng }
    }

    /// The next token from one row of logits.
    pub fn sample(&mut self, logits: &[f32]) -> u32 {
        let p = &self.params;
        if p.temperature <= 0.0 || p.top_k == 1 {
            return argmax(logits);
        }
        let mut cand: Vec<(u32, f32)> = logits
            .iter()
            .enumerate()
            .map(|(i, &l)| (i as u32, l / p.temperature))
            .collect();
        cand.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        if p.top_k > 0 {
            cand.truncate(p.top_k);
        }
        let mx = cand[0].1;
        let mut probs: Vec<f64> = cand.iter().map(|c| ((c.1 - mx) as f64).exp()).collect();
        let sum: f64 = probs.iter().sum();
        probs.iter_mut().for_each(|x| *x /= sum);
        if p.top_p < 1.0 {
            let mut acc = 0.0;
            let mut keep = probs.len();
            for (i, &x) in probs.iter().enumerate() {
                acc += x;
                if acc >= p.top_p as f64 {
                    keep = i + 1;
                    break;
                }
            }
            probs.truncate(keep);
            let s: f64 = probs.iter().sum();
            probs.iter_mut().for_each(|x| *x /= s);
        }
        let mut r = self.rng.next_f64();
        for (i, &x) in probs.iter().enumerate() {
            if r < x {
                return cand[i].0;
            }
            r -= x;
        }
        cand[probs.len() - 1].0
    }
}

/// The index of the largest value (the first on ties, as llama.cpp's greedy sampler).
pub fn argmax(x: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &v) in x.iter().enumerate() {
        if v > x[best] {
            best = i;
        }
    }
    best as u32
}

/// Timings of one generation.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub prompt_tokens: usize,
    pub prefill: Duration,
    pub generated: usize,
    /// Time of the decode predictions (the tokens after the first).
    pub decode: Duration,
    pub decode_steps: usize,
}

impl Stats {
    pub fn prefill_tps(&self) -> f64 {
        self.prompt_tokens as f64 / self.prefill.as_secs_f64().max(1e-9)
    }
    pub fn decode_tps(&self) -> f64 {
        self.decode_steps as f64 / self.decode.as_secs_f64().max(1e-9)
    }
}

/// One conversation with a model: its KV cache and position.
pub struct Generator<'a> {
    llm: &'a Llm,
    state: State,
    position: usize,
    sampler: Sampler,
}

impl<'a> Generator<'a> {
    pub fn new(llm: &'a Llm, sampling: Sampling) -> Result<Generator<'a>> {
        Ok(Generator {
            state: llm.model.new_state()?,
            llm,
            position: 0,
            sampler: Sampler::new(sampling),
        })
    }

    /// Tokens in the cache.
    pub fn position(&self) -> usize {
        self.position
    }

    /// Runs `tokens` through the model at the current position and returns the logits of
    /// the last one (all of them if the graph was built with `all_logits`).
    pub fn feed(&mut self, tokens: &[u32]) -> Result<Vec<f32>> {
        if tokens.is_empty() {
            return Err(Error::Invalid("nothing to feed: no tokens".into()));
        }
        let cap = self.llm.options.max_context;
        if self.position + tokens.len() > cap {
            return Err(Error::Invalid(format!(
                "context full: {} tokens in the cache + {} new > capacity {cap}",
                self.position,
                tokens.len()
            )));
        }
        let ids: Vec<i64> = tokens.iter().map(|&t| t as i64).collect();
        let ids = Tensor::from_vec(vec![ids.len()], ids)?;
        let pos = Tensor::from_vec(vec![1], vec![self.position as i64])?;
        let out = self.llm.model.predict_with_state(
            &[(names::INPUT_IDS, ids), (names::POSITION, pos)],
            &mut self.state,
        )?;
        self.position += tokens.len();
        let logits = out
            .get(names::LOGITS)
            .ok_or_else(|| Error::Invalid("the model has no logits output".into()))?;
        Ok(logits.as_slice::<f32>()?.to_vec())
    }

    /// Feeds `prompt` and samples up to `max_tokens` tokens, calling `on_token` with each as
    /// it comes (return `false` to stop). Stops after an end-of-generation token (EOS, or
    /// any control token), which is passed to `on_token` but not fed.
    pub fn generate(
        &mut self,
        prompt: &[u32],
        max_tokens: usize,
        mut on_token: impl FnMut(u32) -> bool,
    ) -> Result<(Vec<u32>, Stats)> {
        let mut stats = Stats {
            prompt_tokens: prompt.len(),
            ..Default::default()
        };
        let mut out = Vec::new();
        if max_tokens == 0 {
            return Ok((out, stats));
        }
        let vocab = self.llm.config.vocab;
        let t = Instant::now();
        let logits = self.feed(prompt)?;
        stats.prefill = t.elapsed();
        let mut next = self.sampler.sample(&logits[logits.len() - vocab..]);
        loop {
            out.push(next);
            stats.generated += 1;
            let stop = self.is_end(next);
            if !on_token(next) || stop || out.len() >= max_tokens {
                break;
            }
            if self.position >= self.llm.options.max_context {
                break;
            }
            let t = Instant::now();
            let logits = self.feed(&[next])?;
            stats.decode += t.elapsed();
            stats.decode_steps += 1;
            next = self.sampler.sample(&logits[logits.len() - vocab..]);
        }
        Ok((out, stats))
    }

    /// Whether `id` ends generation: EOS or a control token.
    pub fn is_end(&self, id: u32) -> bool {
        Some(id) == self.llm.tokenizer.eos || self.llm.tokenizer.is_control(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOGITS: [f32; 5] = [0.5, 2.0, 1.9, -1.0, 2.0];

    #[test]
    fn greedy_takes_the_first_maximum() {
        assert_eq!(argmax(&LOGITS), 1);
        assert_eq!(Sampler::new(Sampling::default()).sample(&LOGITS), 1);
    }

    #[test]
    fn sampling_is_seeded_and_respects_top_k_and_top_p() {
        let p = |top_k, top_p, seed| Sampling {
            temperature: 1.0,
            top_k,
            top_p,
            seed,
        };
        let draw = |s: Sampling| {
            let mut sm = Sampler::new(s);
            (0..200).map(|_| sm.sample(&LOGITS)).collect::<Vec<_>>()
        };
        assert_eq!(draw(p(0, 1.0, 7)), draw(p(0, 1.0, 7)));
        assert_ne!(draw(p(0, 1.0, 7)), draw(p(0, 1.0, 8)));
        // all five tokens are drawn with no cut; top-k 2 keeps the two largest (1 and 4)
        let all = draw(p(0, 1.0, 1));
        assert!((0..5).all(|t| all.contains(&t)), "{all:?}");
        assert!(draw(p(2, 1.0, 1)).iter().all(|&t| t == 1 || t == 4));
        // top-p below the largest probability keeps only the first of the sorted tokens
        assert!(draw(p(0, 0.1, 1)).iter().all(|&t| t == 1));
        // top-k 1 is greedy
        assert!(draw(p(1, 1.0, 3)).iter().all(|&t| t == 1));
    }
}
