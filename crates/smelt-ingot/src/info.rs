//! What a package says about its model besides the graph: descriptive metadata, opsets,
//! declared states and per-value descriptions.

use std::collections::BTreeMap;

/// A declared state (Core ML's StateType): the graph input `input` is fed from the state
/// and the graph output `output` is written back to it after every prediction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StateDecl {
    pub name: String,
    pub input: String,
    pub output: String,
    pub description: String,
}

/// Package-level information, written to and read from the manifest.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Info {
    pub name: String,
    pub version: String,
    pub author: String,
    pub license: String,
    pub description: String,
    /// User metadata, in order.
    pub metadata: Vec<(String, String)>,
    /// Opset version per op domain ("" is the default ONNX domain).
    pub opsets: Vec<(String, i64)>,
    pub states: Vec<StateDecl>,
    /// Descriptions of inputs and outputs, by value name.
    pub descriptions: BTreeMap<String, String>,
    /// What wrote the file.
    pub producer: String,
    /// What the model was converted from.
    pub source: String,
}
