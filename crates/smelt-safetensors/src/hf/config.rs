//! A transformers `config.json`: a JSON object read with typed getters whose errors name
//! the file and the key.

use crate::error::{Error, Result};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// The largest `config.json` read (real ones are a few KB).
pub const MAX_CONFIG_LEN: u64 = 16 << 20;

/// A parsed `config.json`.
#[derive(Clone, Debug)]
pub struct HfConfig {
    path: PathBuf,
    json: Map<String, Value>,
}

impl HfConfig {
    /// Reads and parses the file at `path`.
    pub fn read(path: &Path) -> Result<HfConfig> {
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let len = std::fs::metadata(path).map_err(io)?.len();
        if len > MAX_CONFIG_LEN {
            return Err(Error::BadConfig {
                path: path.to_path_buf(),
                reason: format!("{len} bytes: more than the {MAX_CONFIG_LEN} a config may have"),
            });
        }
        let text = std::fs::read(path).map_err(io)?;
        HfConfig::parse(path, &text)
    }

    /// Parses `text`, the contents of the config at `path` (named in errors).
    pub fn parse(path: &Path, text: &[u8]) -> Result<HfConfig> {
        let bad = |reason: String| Error::BadConfig {
            path: path.to_path_buf(),
            reason,
        };
        match serde_json::from_slice(text) {
            Ok(Value::Object(json)) => Ok(HfConfig {
                path: path.to_path_buf(),
                json,
            }),
            Ok(_) => Err(bad("not a JSON object".into())),
            Err(e) => Err(bad(format!("not valid JSON: {e}"))),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.json.get(key).filter(|v| !v.is_null())
    }

    fn key_error(&self, key: &str, reason: impl Into<String>) -> Error {
        Error::ConfigKey {
            path: self.path.clone(),
            key: key.to_string(),
            reason: reason.into(),
        }
    }

    /// A positive integer (a size or a count).
    pub fn size(&self, key: &str) -> Result<usize> {
        let v = self
            .get(key)
            .ok_or_else(|| self.key_error(key, "is missing"))?;
        v.as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n > 0)
            .ok_or_else(|| self.key_error(key, format!("is {v}, not a positive integer")))
    }

    /// [`HfConfig::size`], or `default` when the key is absent.
    pub fn size_or(&self, key: &str, default: usize) -> Result<usize> {
        match self.get(key) {
            None => Ok(default),
            Some(_) => self.size(key),
        }
    }

    /// A finite number, or `default` when the key is absent.
    pub fn float_or(&self, key: &str, default: f64) -> Result<f64> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_f64()
                .filter(|x| x.is_finite())
                .ok_or_else(|| self.key_error(key, format!("is {v}, not a number"))),
        }
    }

    /// A string, or `None` when the key is absent.
    pub fn str_opt(&self, key: &str) -> Result<Option<&str>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(self.key_error(key, format!("is {v}, not a string"))),
        }
    }

    /// A boolean, or `default` when the key is absent.
    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool> {
        match self.get(key) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(self.key_error(key, format!("is {v}, not a boolean"))),
        }
    }

    /// `model_type` (required: it says which builder reads the checkpoint).
    pub fn model_type(&self) -> Result<&str> {
        self.str_opt("model_type")?
            .ok_or_else(|| self.key_error("model_type", "is missing"))
    }

    /// `architectures` (the model classes the checkpoint was saved from), empty if absent.
    pub fn architectures(&self) -> Result<Vec<&str>> {
        match self.get("architectures") {
            None => Ok(vec![]),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| {
                    v.as_str().ok_or_else(|| {
                        self.key_error("architectures", format!("holds {v}, not a string"))
                    })
                })
                .collect(),
            Some(v) => Err(self.key_error("architectures", format!("is {v}, not a list"))),
        }
    }
}
