//! GPT-2-style byte-level BPE from GGUF metadata (`tokenizer.ggml.model = "gpt2"`).
//!
//! Encoding, as llama.cpp does it:
//! 1. Special tokens (token type CONTROL or USER_DEFINED) found literally in the text are
//!    split out as their ids when `parse_special` is on (chat markup such as `<|im_start|>`).
//! 2. The rest is pre-tokenized by the regexes of the model family (`tokenizer.ggml.pre`),
//!    each splitting the pieces the previous one left ([`pre_split`]).
//! 3. Each piece's bytes become the GPT-2 byte alphabet (printable stand-ins for every byte),
//!    and adjacent symbols are merged by the lowest rank of `tokenizer.ggml.merges` until
//!    no pair has a rank.
//!
//! Decoding maps each token's text back through the byte alphabet; [`Decoder`] does it
//! incrementally, holding back the bytes of an unfinished UTF-8 character.
//!
//! `\p{L}` and `\p{N}` are Unicode general categories (the `unicode-general-category` crate),
//! as in the regexes llama.cpp and Hugging Face run.

use crate::error::{Error, Result};
use smelt_gguf::Gguf;
use std::collections::HashMap;
use unicode_general_category::{get_general_category, GeneralCategory as C};

/// GGUF token types (`tokenizer.ggml.token_type`).
pub mod token_type {
    pub const NORMAL: i32 = 1;
    pub const UNKNOWN: i32 = 2;
    pub const CONTROL: i32 = 3;
    pub const USER_DEFINED: i32 = 4;
    pub const UNUSED: i32 = 5;
    pub const BYTE: i32 = 6;
}

/// The pre-tokenizer of a model family (`tokenizer.ggml.pre`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PreTokenizer {
    /// GPT-2's regex: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
    Gpt2,
    /// Every digit alone (`\p{N}`), then GPT-2's regex: smollm, starcoder, refact, ...
    DigitsThenGpt2,
}

impl PreTokenizer {
    /// The pre-tokenizer llama.cpp uses for `tokenizer.ggml.pre`; an unknown name is an error.
    pub fn from_name(name: &str) -> Result<PreTokenizer> {
        match name {
            "default" | "gpt2" | "gpt-2" | "mpt" | "olmo" | "jais" => Ok(PreTokenizer::Gpt2),
            "smollm" | "starcoder" | "refact" | "command-r" | "codeshell" | "exaone"
            | "minerva-7b" => Ok(PreTokenizer::DigitsThenGpt2),
            other => Err(Error::Unsupported(format!(
                "tokenizer: pre-tokenizer '{other}' is not supported yet (gpt2, smollm, starcoder, ...)"
            ))),
        }
    }
}

/// A byte-level BPE tokenizer.
#[derive(Clone, Debug)]
pub struct Tokenizer {
    tokens: Vec<String>,
    types: Vec<i32>,
    ids: HashMap<String, u32>,
    /// (left, right) -> (rank, merged id)
    merges: HashMap<(u32, u32), (u32, u32)>,
    /// The special tokens matched literally, longest first.
    specials: Vec<(String, u32)>,
    pre: PreTokenizer,
    byte_to_char: [char; 256],
    char_to_byte: HashMap<char, u8>,
    /// `tokenizer.ggml.bos_token_id`
    pub bos: Option<u32>,
    /// `tokenizer.ggml.eos_token_id`
    pub eos: Option<u32>,
    /// `tokenizer.ggml.add_bos_token` (llama.cpp's default for gpt2 vocabularies: false).
    pub add_bos: bool,
}

/// GPT-2's map from bytes to printable characters: printable Latin-1 bytes map to
/// themselves, the others to U+0100 onwards in byte order.
fn byte_alphabet() -> [char; 256] {
    let mut map = ['\0'; 256];
    let mut n = 0u32;
    for b in 0..256u32 {
        let printable =
            (0x21..=0x7e).contains(&b) || (0xa1..=0xac).contains(&b) || (0xae..=0xff).contains(&b);
        map[b as usize] = if printable {
            char::from_u32(b).unwrap()
        } else {
            n += 1;
            char::from_u32(255 + n).unwrap()
        };
    }
    map
}

impl Tokenizer {
    /// Reads the vocabulary, merges and special ids from GGUF metadata.
    pub fn from_gguf(g: &Gguf) -> Result<Tokenizer> {
        let model = g.get_str("tokenizer.ggml.model")?;
        if model != "gpt2" {
            return Err(Error::Unsupported(format!(
                "tokenizer: model '{model}' is not supported yet (gpt2)"
            )));
        }
        let pre = match g.get("tokenizer.ggml.pre") {
            Some(_) => PreTokenizer::from_name(g.get_str("tokenizer.ggml.pre")?)?,
            None => PreTokenizer::Gpt2,
        };
        let tokens = g.get_str_array("tokenizer.ggml.tokens")?.to_vec();
        let types = match g.get("tokenizer.ggml.token_type") {
            Some(_) => g.get_i32_array("tokenizer.ggml.token_type")?.to_vec(),
            None => vec![token_type::NORMAL; tokens.len()],
        };
        let merges = g.get_str_array("tokenizer.ggml.merges")?;
        let id = |k: &str| -> Result<Option<u32>> {
            Ok(match g.get(k) {
                Some(_) => Some(g.get_uint(k)? as u32),
                None => None,
            })
        };
        let add_bos = match g.get("tokenizer.ggml.add_bos_token") {
            Some(_) => g.get_bool("tokenizer.ggml.add_bos_token")?,
            None => false,
        };
        let (bos, eos) = (
            id("tokenizer.ggml.bos_token_id")?,
            id("tokenizer.ggml.eos_token_id")?,
        );
        Tokenizer::new(tokens, types, merges, pre, bos, eos, add_bos)
    }

    /// A tokenizer from its parts: `merges` are "left right" strings in rank order.
    pub fn new(
        tokens: Vec<String>,
        types: Vec<i32>,
        merges: &[String],
        pre: PreTokenizer,
        bos: Option<u32>,
        eos: Option<u32>,
        add_bos: bool,
    ) -> Result<Tokenizer> {
        if types.len() != tokens.len() {
            return Err(Error::Tokenizer(format!(
                "{} token types for {} tokens",
                types.len(),
                tokens.len()
            )));
        }
        for (what, v) in [("bos", bos), ("eos", eos)] {
            if v.is_some_and(|v| v as usize >= tokens.len()) {
                return Err(Error::Tokenizer(format!(
                    "{what} id {} is outside the vocabulary of {}",
                    v.unwrap(),
                    tokens.len()
                )));
            }
        }
        let ids: HashMap<String, u32> = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i as u32))
            .collect();
        let mut table = HashMap::with_capacity(merges.len());
        for (rank, m) in merges.iter().enumerate() {
            let (l, r) = m
                .split_once(' ')
                .ok_or_else(|| Error::Tokenizer(format!("merge {rank} '{m}' has no space")))?;
            let (Some(&li), Some(&ri), Some(&mi)) =
                (ids.get(l), ids.get(r), ids.get(&format!("{l}{r}")))
            else {
                // llama.cpp skips nothing here, but a merge whose parts are not tokens can
                // never apply: leave it out
                continue;
            };
            table.entry((li, ri)).or_insert((rank as u32, mi));
        }
        let mut specials: Vec<(String, u32)> = tokens
            .iter()
            .zip(&types)
            .enumerate()
            .filter(|(_, (t, &ty))| {
                !t.is_empty() && (ty == token_type::CONTROL || ty == token_type::USER_DEFINED)
            })
            .map(|(i, (t, _))| (t.clone(), i as u32))
            .collect();
        specials.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.1.cmp(&b.1)));
        let byte_to_char = byte_alphabet();
        let char_to_byte = byte_to_char
            .iter()
            .enumerate()
            .map(|(b, &c)| (c, b as u8))
            .collect();
        Ok(Tokenizer {
            tokens,
            types,
            ids,
            merges: table,
            specials,
            pre,
            byte_to_char,
            char_to_byte,
            bos,
            eos,
            add_bos,
        })
    }

    pub fn vocab_size(&self) -> usize {
        self.tokens.len()
    }

    /// The text of token `id` as stored (in the byte alphabet).
    pub fn token(&self, id: u32) -> Option<&str> {
        self.tokens.get(id as usize).map(String::as_str)
    }

    /// The id of the token whose stored text is `text`.
    pub fn token_id(&self, text: &str) -> Option<u32> {
        self.ids.get(text).copied()
    }

    /// Whether `id` is a control token (end of turn, start of turn, ...).
    pub fn is_control(&self, id: u32) -> bool {
        self.types.get(id as usize) == Some(&token_type::CONTROL)
    }

    /// Encodes `text`; with `parse_special`, special tokens written in the text are their
    /// ids (llama.cpp's `parse_special`); BOS is prepended when `add_bos` and the file says so.
    pub fn encode(&self, text: &str, add_bos: bool, parse_special: bool) -> Result<Vec<u32>> {
        let mut out = Vec::new();
        if add_bos && self.add_bos {
            out.extend(self.bos);
        }
        let mut rest = text;
        while !rest.is_empty() {
            let found = if parse_special {
                self.find_special(rest)
            } else {
                None
            };
            match found {
                Some((at, len, id)) => {
                    self.encode_plain(&rest[..at], &mut out)?;
                    out.push(id);
                    rest = &rest[at + len..];
                }
                None => {
                    self.encode_plain(rest, &mut out)?;
                    break;
                }
            }
        }
        Ok(out)
    }

    /// The first special token in `s`: (byte offset, byte length, id); the longest wins at
    /// one offset.
    fn find_special(&self, s: &str) -> Option<(usize, usize, u32)> {
        let mut best: Option<(usize, usize, u32)> = None;
        for (t, id) in &self.specials {
            if let Some(at) = s.find(t.as_str()) {
                if best.is_none_or(|(b, bl, _)| at < b || (at == b && t.len() > bl)) {
                    best = Some((at, t.len(), *id));
                }
            }
        }
        best
    }

    fn encode_plain(&self, text: &str, out: &mut Vec<u32>) -> Result<()> {
        for piece in pre_split(text, self.pre) {
            self.bpe(piece, out)?;
        }
        Ok(())
    }

    /// Byte-level BPE of one pre-tokenized piece.
    fn bpe(&self, piece: &str, out: &mut Vec<u32>) -> Result<()> {
        let mut syms: Vec<u32> = Vec::with_capacity(piece.len());
        let mut buf = [0u8; 4];
        for &b in piece.as_bytes() {
            let c = self.byte_to_char[b as usize];
            let id = self
                .ids
                .get(c.encode_utf8(&mut buf) as &str)
                .ok_or_else(|| {
                    Error::Tokenizer(format!("the vocabulary has no token for byte 0x{b:02x}"))
                })?;
            syms.push(*id);
        }
        // merge the lowest-ranked adjacent pair until none has a rank (pieces are short)
        loop {
            let best = syms
                .windows(2)
                .enumerate()
                .filter_map(|(i, w)| self.merges.get(&(w[0], w[1])).map(|&(r, m)| (r, i, m)))
                .min();
            let Some((_, i, m)) = best else { break };
            syms[i] = m;
            syms.remove(i + 1);
        }
        out.extend_from_slice(&syms);
        Ok(())
    }

    /// The bytes of token `id` (control tokens: their text, or nothing with `skip_control`).
    pub fn token_bytes(&self, id: u32, skip_control: bool) -> Vec<u8> {
        let Some(t) = self.tokens.get(id as usize) else {
            return Vec::new();
        };
        let ty = self.types[id as usize];
        if ty == token_type::CONTROL || ty == token_type::USER_DEFINED || ty == token_type::UNKNOWN
        {
            if skip_control && ty == token_type::CONTROL {
                return Vec::new();
            }
            return t.as_bytes().to_vec();
        }
        let mut bytes = Vec::with_capacity(t.len());
        let mut buf = [0u8; 4];
        for c in t.chars() {
            match self.char_to_byte.get(&c) {
                Some(&b) => bytes.push(b),
                // not in the byte alphabet: the character's own UTF-8
                None => bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes()),
            }
        }
        bytes
    }

    /// Decodes `ids` to text (invalid UTF-8 replaced), control tokens left out with
    /// `skip_control`.
    pub fn decode(&self, ids: &[u32], skip_control: bool) -> String {
        let bytes: Vec<u8> = ids
            .iter()
            .flat_map(|&i| self.token_bytes(i, skip_control))
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// Incremental decoding for streaming: [`Decoder::push`] returns the text completed by one
/// more token, holding back the bytes of a character split across tokens.
#[derive(Debug, Default)]
pub struct Decoder {
    pending: Vec<u8>,
}

impl Decoder {
    pub fn push(&mut self, tok: &Tokenizer, id: u32, skip_control: bool) -> String {
        self.pending
            .extend_from_slice(&tok.token_bytes(id, skip_control));
        let valid = match std::str::from_utf8(&self.pending) {
            Ok(_) => self.pending.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(), // unfinished: wait
            Err(_) => {
                // invalid bytes: replace them now
                let s = String::from_utf8_lossy(&self.pending).into_owned();
                self.pending.clear();
                return s;
            }
        };
        let s = String::from_utf8_lossy(&self.pending[..valid]).into_owned();
        self.pending.drain(..valid);
        s
    }

    /// What is left at the end (an unfinished character, replaced).
    pub fn finish(&mut self) -> String {
        let s = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        s
    }
}

fn is_letter(c: char) -> bool {
    matches!(
        get_general_category(c),
        C::UppercaseLetter
            | C::LowercaseLetter
            | C::TitlecaseLetter
            | C::ModifierLetter
            | C::OtherLetter
    )
}

fn is_number(c: char) -> bool {
    matches!(
        get_general_category(c),
        C::DecimalNumber | C::LetterNumber | C::OtherNumber
    )
}

/// `\s` as in the regexes (Unicode White_Space).
fn is_space(c: char) -> bool {
    c.is_whitespace()
}

/// Splits `text` into the pieces the pre-tokenizer makes (in order, covering all of it).
pub fn pre_split(text: &str, pre: PreTokenizer) -> Vec<&str> {
    let mut out = Vec::new();
    match pre {
        PreTokenizer::Gpt2 => gpt2_split(text, &mut out),
        PreTokenizer::DigitsThenGpt2 => {
            // `\p{N}`: every number character alone; GPT-2's regex on the text between
            let mut start = 0;
            for (i, c) in text.char_indices() {
                if is_number(c) {
                    gpt2_split(&text[start..i], &mut out);
                    out.push(&text[i..i + c.len_utf8()]);
                    start = i + c.len_utf8();
                }
            }
            gpt2_split(&text[start..], &mut out);
        }
    }
    out
}

/// GPT-2's pre-tokenizer regex, written out (it needs a look-ahead):
/// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
fn gpt2_split<'a>(text: &'a str, out: &mut Vec<&'a str>) {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let n = chars.len();
    let at = |i: usize| chars.get(i).map(|&(_, c)| c);
    let off = |i: usize| chars.get(i).map_or(text.len(), |&(o, _)| o);
    let is_other = |c: char| !is_space(c) && !is_letter(c) && !is_number(c);
    let mut i = 0;
    while i < n {
        let c = chars[i].1;
        let start = i;
        // contractions
        if c == '\'' {
            let next = at(i + 1);
            let next2 = at(i + 2);
            let two = matches!(next, Some('s' | 't' | 'm' | 'd'));
            let three = matches!(
                (next, next2),
                (Some('r'), Some('e')) | (Some('v'), Some('e')) | (Some('l'), Some('l'))
            );
            if three {
                i += 3;
            } else if two {
                i += 2;
            }
            if i > start {
                out.push(&text[off(start)..off(i)]);
                continue;
            }
        }
        // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`
        let body = if c == ' ' { at(i + 1) } else { Some(c) };
        let class: Option<fn(char) -> bool> = match body {
            Some(b) if is_letter(b) => Some(is_letter),
            Some(b) if is_number(b) => Some(is_number),
            Some(b) if is_other(b) => Some(|c| !is_space(c) && !is_letter(c) && !is_number(c)),
            _ => None,
        };
        if let Some(class) = class {
            if c == ' ' {
                i += 1;
            }
            while i < n && class(chars[i].1) {
                i += 1;
            }
            out.push(&text[off(start)..off(i)]);
            continue;
        }
        // whitespace: `\s+(?!\S)`, else `\s+`
        let mut j = i;
        while j < n && is_space(chars[j].1) {
            j += 1;
        }
        if j < n && j - i > 1 {
            j -= 1; // leave the last space to join the word that follows
        }
        i = j.max(i + 1);
        out.push(&text[off(start)..off(i)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpt2_regex_pieces() {
        let p = |s| pre_split(s, PreTokenizer::Gpt2);
        assert_eq!(p("Hello world"), ["Hello", " world"]);
        assert_eq!(
            p("I'm here, they'll"),
            ["I", "'m", " here", ",", " they", "'ll"]
        );
        assert_eq!(p("a  b"), ["a", " ", " b"]);
        assert_eq!(p("x\n\ny"), ["x", "\n", "\n", "y"]);
        assert_eq!(p("end  "), ["end", "  "]);
        assert_eq!(p("a  \nb"), ["a", "  ", "\n", "b"]);
        assert_eq!(p(" ?!x"), [" ?!", "x"]);
        assert_eq!(p("año 12ab"), ["año", " 12", "ab"]);
        assert_eq!(p(""), Vec::<&str>::new());
    }

    #[test]
    fn digits_split_alone_first() {
        let p = |s| pre_split(s, PreTokenizer::DigitsThenGpt2);
        assert_eq!(p("in 2024!"), ["in", " ", "2", "0", "2", "4", "!"]);
        assert_eq!(p("x1y"), ["x", "1", "y"]);
    }

    #[test]
    fn pieces_cover_the_text() {
        let s = "Héllo,  wörld!\n\n\tIt's 3.14 — naïve 漢字 test  ";
        for pre in [PreTokenizer::Gpt2, PreTokenizer::DigitsThenGpt2] {
            assert_eq!(pre_split(s, pre).concat(), s);
        }
    }

    /// A toy vocabulary: every byte of the alphabet, plus merges "h e", "he l", "hel l",
    /// "hell o", "Ġ w".
    fn toy() -> Tokenizer {
        let alpha = byte_alphabet();
        let mut tokens: Vec<String> = vec!["<|end|>".into()];
        tokens.extend(alpha.iter().map(|c| c.to_string()));
        let merges: Vec<String> = ["h e", "he l", "hel l", "hell o", "Ġ w"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for m in &merges {
            tokens.push(m.replace(' ', ""));
        }
        let mut types = vec![token_type::NORMAL; tokens.len()];
        types[0] = token_type::CONTROL;
        Tokenizer::new(
            tokens,
            types,
            &merges,
            PreTokenizer::Gpt2,
            None,
            Some(0),
            false,
        )
        .unwrap()
    }

    #[test]
    fn bpe_merges_by_rank_and_round_trips() {
        let t = toy();
        let ids = t.encode("hello world", false, false).unwrap();
        let hello = t.token_id("hello").unwrap();
        let gw = t.token_id("Ġw").unwrap();
        assert_eq!(ids[0], hello);
        assert_eq!(ids[1], gw);
        assert_eq!(ids.len(), 2 + "orld".len());
        assert_eq!(t.decode(&ids, false), "hello world");
        let s = "naïve 漢字\n\t end";
        assert_eq!(t.decode(&t.encode(s, false, false).unwrap(), false), s);
    }

    #[test]
    fn specials_only_when_parsed() {
        let t = toy();
        let ids = t.encode("hello<|end|>", false, true).unwrap();
        assert_eq!(ids, [t.token_id("hello").unwrap(), 0]);
        let ids = t.encode("hello<|end|>", false, false).unwrap();
        assert!(!ids.contains(&0));
        assert_eq!(t.decode(&ids, false), "hello<|end|>");
        assert_eq!(t.decode(&[0], true), "");
    }

    #[test]
    fn decoder_holds_split_characters() {
        let t = toy();
        let ids = t.encode("é!", false, false).unwrap(); // é is two byte tokens
        assert_eq!(ids.len(), 3);
        let mut d = Decoder::default();
        assert_eq!(d.push(&t, ids[0], true), "");
        assert_eq!(d.push(&t, ids[1], true), "é");
        assert_eq!(d.push(&t, ids[2], true), "!");
        assert_eq!(d.finish(), "");
    }

    #[test]
    fn unknown_pre_tokenizer_is_an_error() {
        let e = PreTokenizer::from_name("qwen9").unwrap_err().to_string();
        assert!(e.contains("qwen9"), "{e}");
    }
}
