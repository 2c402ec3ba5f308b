//! The one error type of this crate.

/// What can go wrong importing, tokenizing or generating.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The GGUF file could not be read (a malformed file, a missing key or tensor).
    #[error("{0}")]
    Gguf(#[from] smelt_gguf::Error),
    /// Building or running the graph failed.
    #[error("{0}")]
    Smelt(#[from] smelt_core::Error),
    /// `general.architecture` names an architecture this importer does not build.
    #[error("unsupported architecture '{0}' (supported: {supported})", supported = crate::config::SUPPORTED.join(", "))]
    UnsupportedArchitecture(String),
    /// A metadata value the importer cannot honour (a RoPE scaling type, a tokenizer model).
    #[error("{0}")]
    Unsupported(String),
    /// The tokenizer metadata is inconsistent, or text cannot be encoded.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// The chat template failed to parse or render.
    #[error("chat template: {0}")]
    Template(String),
    /// A request the generator cannot serve (a prompt longer than the context, ...).
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
