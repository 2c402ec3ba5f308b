//! Import of a transformers checkpoint: `config.json` says the `model_type`, the weights
//! come from `model.safetensors`; the builder of that type makes the portable graph.
//!
//! A checkpoint is given as its folder (holding both files) or as the `.safetensors` file
//! (with `config.json` beside it). Sharded checkpoints (`model.safetensors.index.json`) are
//! not read yet.

pub mod bert;
pub mod config;

pub use config::HfConfig;

use crate::error::{Error, Result};
use crate::SafeTensorsFile;
use smelt_ingot::Info;
use smelt_ir::Graph;
use std::path::{Path, PathBuf};

/// The `model_type`s [`import`] builds.
pub const SUPPORTED_MODEL_TYPES: &[&str] = &["bert"];

/// Choices made when building a graph.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Add the input `token_type_ids` (i64 [batch, seq]). Without it every token is of
    /// type 0, as when a transformers model is called without the argument.
    pub token_type_ids: bool,
}

/// The `config.json` and weight file of the checkpoint at `path` (a folder, or a
/// `.safetensors` file with `config.json` beside it). Checks that both exist.
pub fn locate(path: &Path) -> Result<(PathBuf, PathBuf)> {
    let (dir, weights) = if path.is_dir() {
        (path.to_path_buf(), path.join("model.safetensors"))
    } else {
        let dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        (dir, path.to_path_buf())
    };
    let config = dir.join("config.json");
    let missing = |p: &Path, why: &str| Error::BadConfig {
        path: p.to_path_buf(),
        reason: format!("no such file ({why})"),
    };
    if !config.is_file() {
        return Err(missing(
            &config,
            "a safetensors checkpoint is imported with the config.json beside its weights",
        ));
    }
    if !weights.is_file() {
        let why = if dir.join("model.safetensors.index.json").is_file() {
            "sharded checkpoints (model.safetensors.index.json) are not supported yet"
        } else {
            "the folder must hold model.safetensors"
        };
        return Err(missing(&weights, why));
    }
    Ok((config, weights))
}

/// Reads the checkpoint at `path` ([`locate`]) and builds its graph and package info. An
/// unsupported `model_type` or architecture is [`Error::UnsupportedModel`], before the
/// weights are opened.
pub fn import(path: &Path, opts: &Options) -> Result<(Graph, Info)> {
    let (config_path, weights_path) = locate(path)?;
    let config = HfConfig::read(&config_path)?;
    let model_type = config.model_type()?;
    match model_type {
        "bert" => {
            let c = bert::BertConfig::from_hf(&config)?;
            let weights = SafeTensorsFile::open(&weights_path)?;
            let graph = bert::build(&weights, &c, opts)?;
            Ok((graph, info(&config, &weights_path, &weights)))
        }
        other => Err(Error::UnsupportedModel {
            what: "model_type",
            found: other.to_string(),
            supported: SUPPORTED_MODEL_TYPES.join(", "),
        }),
    }
}

/// The package info of an imported checkpoint: named after its folder, the config's model
/// type and architectures and the file's `__metadata__` kept as metadata.
fn info(config: &HfConfig, weights_path: &Path, w: &SafeTensorsFile) -> Info {
    let name = weights_path
        .parent()
        .and_then(|d| d.file_name())
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut metadata = vec![(
        "hf.model_type".to_string(),
        config.model_type().unwrap_or_default().to_string(),
    )];
    if let Ok(a) = config.architectures() {
        if !a.is_empty() {
            metadata.push(("hf.architectures".into(), a.join(",")));
        }
    }
    metadata.extend(
        w.metadata()
            .iter()
            .map(|(k, v)| (format!("safetensors.{k}"), v.clone())),
    );
    Info {
        name,
        metadata,
        opsets: vec![(String::new(), bert::OPSET)],
        producer: format!("smelt-safetensors {}", env!("CARGO_PKG_VERSION")),
        source: "safetensors".into(),
        ..Default::default()
    }
}
