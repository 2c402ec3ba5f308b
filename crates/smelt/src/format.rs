//! Which kind of model file a path holds, told by its first bytes (never by its extension),
//! so that a file smelt cannot read yet is named for what it is instead of failing as a
//! malformed ONNX model.

use smelt_core::{Error, Result};
use std::io::Read;
use std::path::Path;

/// A model file's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelFormat {
    /// An `.ingot` package (its magic).
    Ingot,
    /// An ONNX ModelProto: protobuf has no magic, so this is every file not recognised as
    /// another format; the ONNX parser then says whether it is one.
    Onnx,
    /// A GGUF file (llama.cpp's format): magic `GGUF`.
    Gguf,
    /// A safetensors file (an 8-byte little-endian header length, then a JSON header), or a
    /// Hugging Face checkpoint folder holding `config.json` and `model.safetensors`: read
    /// with the `config.json` beside it (smelt-safetensors; BERT encoders).
    Safetensors,
    /// A zip archive (a PyTorch `.pt` / `.pth` checkpoint, a Keras file, an `.mlpackage`).
    Zip,
    /// A Python pickle (an older PyTorch checkpoint).
    Pickle,
    /// A TensorFlow Lite flatbuffer (`TFL3` at offset 4).
    TfLite,
    /// An HDF5 file (a Keras `.h5` model).
    Hdf5,
}

impl ModelFormat {
    /// The format's name as users know it.
    pub fn name(self) -> &'static str {
        match self {
            ModelFormat::Ingot => ".ingot package",
            ModelFormat::Onnx => "ONNX model",
            ModelFormat::Gguf => "GGUF file",
            ModelFormat::Safetensors => "safetensors file",
            ModelFormat::Zip => "zip archive (a PyTorch checkpoint?)",
            ModelFormat::Pickle => "Python pickle (a PyTorch checkpoint?)",
            ModelFormat::TfLite => "TensorFlow Lite model",
            ModelFormat::Hdf5 => "HDF5 file (a Keras model?)",
        }
    }

    /// Whether smelt can load this format.
    pub fn is_supported(self) -> bool {
        matches!(
            self,
            ModelFormat::Ingot | ModelFormat::Onnx | ModelFormat::Safetensors
        )
    }
}

/// The formats smelt reads, for messages.
pub const SUPPORTED: &str = "ONNX (.onnx) models, .ingot packages and Hugging Face \
     checkpoints (a folder with config.json and model.safetensors; BERT encoders)";

/// The format of the first bytes of a file.
pub fn sniff(head: &[u8]) -> ModelFormat {
    if head.starts_with(&smelt_ingot::header::MAGIC) {
        return ModelFormat::Ingot;
    }
    if head.starts_with(b"GGUF") {
        return ModelFormat::Gguf;
    }
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        return ModelFormat::Zip;
    }
    if head.starts_with(b"\x89HDF\r\n\x1a\n") {
        return ModelFormat::Hdf5;
    }
    if head.len() >= 8 && &head[4..8] == b"TFL3" {
        return ModelFormat::TfLite;
    }
    // safetensors: u64 LE header length, then '{' (a JSON object, maybe after spaces)
    if head.len() >= 9 {
        let n = u64::from_le_bytes(head[..8].try_into().unwrap_or_default());
        let json = head[8..].iter().find(|b| !b.is_ascii_whitespace());
        if n >= 2 && n < (1 << 32) && json == Some(&b'{') {
            return ModelFormat::Safetensors;
        }
    }
    // pickle protocol 2+: PROTO opcode then the protocol number
    if head.len() >= 2 && head[0] == 0x80 && (2..=5).contains(&head[1]) {
        return ModelFormat::Pickle;
    }
    ModelFormat::Onnx
}

/// The format of the model file at `path`. A folder is a Hugging Face checkpoint when it
/// holds `model.safetensors`; a file that cannot be opened, or another folder, is an error
/// naming the path.
pub fn detect(path: &Path) -> Result<ModelFormat> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path.display().to_string(), e))?;
    if f.metadata().is_ok_and(|m| m.is_dir()) {
        if path.join("model.safetensors").is_file() {
            return Ok(ModelFormat::Safetensors);
        }
        return Err(Error::invalid(format!(
            "{} is a folder, not a model file (a Hugging Face checkpoint folder holds \
             config.json and model.safetensors)",
            path.display()
        )));
    }
    let mut head = [0u8; 16];
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io(path.display().to_string(), e)),
        }
    }
    Ok(sniff(&head[..n]))
}

/// The format of `path`, or an error when smelt cannot load it: names the format found and
/// the ones supported.
pub fn detect_supported(path: &Path) -> Result<ModelFormat> {
    let f = detect(path)?;
    if f.is_supported() {
        Ok(f)
    } else {
        let hint = if f == ModelFormat::Gguf {
            " (a GGUF language model runs with `smelt generate`)"
        } else {
            ""
        };
        Err(Error::Unsupported(format!(
            "{} is a {}; smelt reads {SUPPORTED}{hint}",
            path.display(),
            f.name()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_told_by_their_first_bytes() {
        let mut st = 93u64.to_le_bytes().to_vec();
        st.extend_from_slice(b"{\"__metadata__\":{}}");
        assert_eq!(sniff(&st), ModelFormat::Safetensors);
        assert_eq!(sniff(b"GGUF\x03\0\0\0\0\0\0\0"), ModelFormat::Gguf);
        assert_eq!(sniff(b"PK\x03\x04rest"), ModelFormat::Zip);
        assert_eq!(sniff(b"\x80\x02}q\0"), ModelFormat::Pickle);
        assert_eq!(sniff(b"\x1c\0\0\0TFL3\0\0"), ModelFormat::TfLite);
        assert_eq!(sniff(&smelt_ingot::header::MAGIC), ModelFormat::Ingot);
        // an ONNX ModelProto: field 1 (ir_version) varint, then field 2 (producer_name)
        assert_eq!(sniff(b"\x08\x07\x12\x07pytorch"), ModelFormat::Onnx);
        assert_eq!(sniff(b""), ModelFormat::Onnx);
        assert!(!ModelFormat::Gguf.is_supported() && ModelFormat::Onnx.is_supported());
        assert!(ModelFormat::Safetensors.is_supported());
    }
}
