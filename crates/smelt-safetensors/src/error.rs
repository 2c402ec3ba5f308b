//! The crate's error type. A file error names the tensor (or the header field) and the bytes
//! concerned; an import error names the config key, the tensor or the model type.

use std::path::PathBuf;

/// A safetensors file that cannot be read, or a checkpoint that cannot be imported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{}: {}", path.display(), smelt_core::error::io_text(source))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    // ---- header
    #[error("file of {len} bytes: too short for the 8-byte header length")]
    TooShort { len: u64 },
    #[error("header length {len} is more than the {max} bytes a header may have")]
    HeaderTooLong { len: u64, max: u64 },
    #[error("header length {len} runs past the end of the file ({file_len} bytes, 8 of them the length)")]
    HeaderPastEnd { len: u64, file_len: u64 },
    #[error("header is not UTF-8 (invalid byte at header offset {offset})")]
    HeaderNotUtf8 { offset: usize },
    #[error("header is not valid JSON: {reason} (header line {line}, column {column})")]
    BadJson {
        reason: String,
        line: usize,
        column: usize,
    },
    #[error("header is not a JSON object of tensors")]
    HeaderNotObject,
    #[error("header: __metadata__ must be an object of string values: {reason}")]
    BadMetadata { reason: String },
    #[error("tensor '{tensor}' is given twice in the header")]
    DuplicateTensor { tensor: String },

    // ---- tensor entries
    #[error("tensor '{tensor}': {reason}")]
    BadEntry { tensor: String, reason: String },
    #[error(
        "tensor '{tensor}': unknown dtype '{dtype}' (known: {})",
        crate::dtype::known_names()
    )]
    UnknownDtype { tensor: String, dtype: String },
    #[error("tensor '{tensor}': shape {shape:?} of {dtype} has more bytes than a file can hold")]
    ShapeOverflow {
        tensor: String,
        shape: Vec<u64>,
        dtype: String,
    },
    #[error("tensor '{tensor}': data_offsets [{start}, {end}] end before they start")]
    ReversedOffsets {
        tensor: String,
        start: u64,
        end: u64,
    },
    #[error(
        "tensor '{tensor}': data_offsets [{start}, {end}] run past the end of the data \
         ({data_len} bytes after the header)"
    )]
    OutOfRange {
        tensor: String,
        start: u64,
        end: u64,
        data_len: u64,
    },
    #[error(
        "tensor '{tensor}': shape {shape:?} of {dtype} needs {expected} bytes, data_offsets \
         give {got}"
    )]
    SizeMismatch {
        tensor: String,
        dtype: String,
        shape: Vec<u64>,
        expected: u64,
        got: u64,
    },
    #[error(
        "tensors '{first}' (data bytes {}..{}) and '{second}' (data bytes {}..{}) overlap",
        first_range.0, first_range.1, second_range.0, second_range.1
    )]
    Overlap {
        first: String,
        first_range: (u64, u64),
        second: String,
        second_range: (u64, u64),
    },
    #[error("data bytes {start}..{end} belong to no tensor (a safetensors file has no holes)")]
    Hole { start: u64, end: u64 },

    // ---- tensor data
    #[error("no tensor named '{0}'")]
    NoSuchTensor(String),
    #[error("tensor '{tensor}': {reason}")]
    BadData { tensor: String, reason: String },

    // ---- import of a checkpoint
    #[error("{}: {reason}", path.display())]
    BadConfig { path: PathBuf, reason: String },
    #[error("{}: key '{key}' {reason}", path.display())]
    ConfigKey {
        path: PathBuf,
        key: String,
        reason: String,
    },
    #[error("unsupported {what} '{found}' (supported: {supported})")]
    UnsupportedModel {
        what: &'static str,
        found: String,
        supported: String,
    },
    #[error("tensor '{tensor}': shape {got:?}, the config implies {expected:?}")]
    WrongShape {
        tensor: String,
        expected: Vec<u64>,
        got: Vec<u64>,
    },
    #[error("{0}")]
    Smelt(#[from] smelt_core::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Error> for smelt_core::Error {
    /// File and config problems become `Format`, unsupported models `Unsupported`.
    fn from(e: Error) -> smelt_core::Error {
        match e {
            Error::Smelt(e) => e,
            Error::Io { path, source } => smelt_core::Error::Io {
                context: path.display().to_string(),
                source,
            },
            e @ Error::UnsupportedModel { .. } => smelt_core::Error::Unsupported(e.to_string()),
            e => smelt_core::Error::Format(e.to_string()),
        }
    }
}
