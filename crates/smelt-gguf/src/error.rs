//! The crate's error type. Every variant says what was being read and where: the byte offset
//! in the file, the metadata key or the tensor name.

use crate::quant::GgmlType;
use std::path::PathBuf;

/// A GGUF file that cannot be read, or a request the file cannot answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    // ---- header
    #[error("not a GGUF file: it starts with {found:02x?}, not the magic \"GGUF\"")]
    BadMagic { found: Vec<u8> },
    #[error("GGUF version {version} is not supported (versions 2 and 3 are)")]
    UnsupportedVersion { version: u32 },
    #[error(
        "big-endian GGUF file (version {version} with its bytes swapped): only little-endian \
         files are supported"
    )]
    BigEndian { version: u32 },

    // ---- bounds, shared by every section
    #[error("file ends inside {what} at offset {offset}: {need} bytes needed, {left} left")]
    Truncated {
        what: String,
        offset: u64,
        need: u64,
        left: u64,
    },
    #[error("{what} at offset {offset} is {count}: more than the {left} bytes left can hold")]
    CountTooLarge {
        what: String,
        offset: u64,
        count: u64,
        left: u64,
    },
    #[error("{what} at offset {offset} is not valid UTF-8")]
    InvalidUtf8 { what: String, offset: u64 },

    // ---- metadata
    #[error("{what} at offset {offset}: unknown value type {ty} (known: 0 to 12)")]
    UnknownValueType { what: String, offset: u64, ty: u32 },
    #[error("{what} at offset {offset}: bool byte {value} (must be 0 or 1)")]
    BadBool {
        what: String,
        offset: u64,
        value: u8,
    },
    #[error("{what} at offset {offset}: arrays nested deeper than {max} levels")]
    NestingTooDeep {
        what: String,
        offset: u64,
        max: usize,
    },
    #[error("metadata key '{key}' at offset {offset} was already given")]
    DuplicateKey { key: String, offset: u64 },
    #[error("general.alignment is {value}: it must be a UINT32 power of two")]
    BadAlignment { value: String },
    #[error("metadata key '{key}' is missing")]
    MissingKey { key: String },
    #[error("metadata key '{key}' holds {found}, not {expected}")]
    WrongType {
        key: String,
        expected: String,
        found: String,
    },

    // ---- tensor infos
    #[error("tensor '{tensor}' at offset {offset}: {n_dims} dimensions (at most {max})")]
    TooManyDims {
        tensor: String,
        offset: u64,
        n_dims: u32,
        max: u32,
    },
    #[error("tensor '{tensor}' at offset {offset}: unknown tensor type {ty}{}", removed_note(*.ty))]
    UnknownTensorType {
        tensor: String,
        offset: u64,
        ty: u32,
    },
    #[error("tensor '{tensor}' at offset {offset}: dimensions {dims:?} ({ty}): {reason}")]
    BadShape {
        tensor: String,
        offset: u64,
        dims: Vec<u64>,
        ty: GgmlType,
        reason: String,
    },
    #[error("tensor '{tensor}' at offset {offset} was already given")]
    DuplicateTensor { tensor: String, offset: u64 },
    #[error(
        "tensor '{tensor}': data offset {offset} is not a multiple of the alignment {alignment}"
    )]
    Misaligned {
        tensor: String,
        offset: u64,
        alignment: u64,
    },
    #[error(
        "tensor '{tensor}': its {size} bytes at data offset {offset} (the data section starts \
         at {data_start}) run past the end of the file ({file_len} bytes)"
    )]
    OutOfRange {
        tensor: String,
        offset: u64,
        size: u64,
        data_start: u64,
        file_len: u64,
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
    #[error("no tensor named '{0}'")]
    NoSuchTensor(String),

    // ---- tensor data
    #[error(
        "dequantizing {ty} is not supported (supported: {})",
        crate::quant::supported_names()
    )]
    UnsupportedType { ty: GgmlType },
    #[error("{ty} data for {elements} elements: {expected}, got {got} bytes")]
    SizeMismatch {
        ty: GgmlType,
        elements: u64,
        expected: String,
        got: u64,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// Names the ggml type numbers that were used once and removed (files holding them are
/// refused by llama.cpp too).
fn removed_note(ty: u32) -> &'static str {
    match ty {
        4 => " (Q4_2, removed from ggml)",
        5 => " (Q4_3, removed from ggml)",
        31 => " (Q4_0_4_4, removed from GGUF files: repack from Q4_0)",
        32 => " (Q4_0_4_8, removed from GGUF files: repack from Q4_0)",
        33 => " (Q4_0_8_8, removed from GGUF files: repack from Q4_0)",
        36 => " (IQ4_NL_4_4, removed from GGUF files)",
        37 => " (IQ4_NL_4_8, removed from GGUF files)",
        38 => " (IQ4_NL_8_8, removed from GGUF files)",
        _ => "",
    }
}
