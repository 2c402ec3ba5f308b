//! Node attributes, by name, with typed accessors whose errors name the attribute.

use crate::Graph;
use smelt_core::{Error, Result, Tensor, ValueInfo};
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Clone, Debug)]
pub enum Attr {
    Float(f32),
    Int(i64),
    String(String),
    Tensor(Tensor),
    Graph(Arc<Graph>),
    Type(ValueInfo),
    Floats(Vec<f32>),
    Ints(Vec<i64>),
    Strings(Vec<String>),
    Tensors(Vec<Tensor>),
    Graphs(Vec<Arc<Graph>>),
    Types(Vec<ValueInfo>),
}

impl Attr {
    pub fn kind(&self) -> &'static str {
        match self {
            Attr::Float(_) => "float",
            Attr::Int(_) => "int",
            Attr::String(_) => "string",
            Attr::Tensor(_) => "tensor",
            Attr::Graph(_) => "graph",
            Attr::Type(_) => "type",
            Attr::Floats(_) => "floats",
            Attr::Ints(_) => "ints",
            Attr::Strings(_) => "strings",
            Attr::Tensors(_) => "tensors",
            Attr::Graphs(_) => "graphs",
            Attr::Types(_) => "types",
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Attributes(pub BTreeMap<String, Attr>);

macro_rules! getter {
    ($get:ident, $or:ident, $var:ident, $t:ty, $kind:literal) => {
        /// The attribute if present; an error if it has another type.
        pub fn $get(&self, name: &str) -> Result<Option<$t>> {
            match self.0.get(name) {
                None => Ok(None),
                Some(Attr::$var(v)) => Ok(Some(v.clone())),
                Some(a) => Err(Error::invalid(format!(
                    "attribute '{name}' is {}, expected {}",
                    a.kind(),
                    $kind
                ))),
            }
        }
        /// The attribute, or `default` when absent.
        pub fn $or(&self, name: &str, default: $t) -> Result<$t> {
            Ok(self.$get(name)?.unwrap_or(default))
        }
    };
}

impl Attributes {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn with(mut self, name: &str, a: Attr) -> Self {
        self.0.insert(name.to_string(), a);
        self
    }
    pub fn get(&self, name: &str) -> Option<&Attr> {
        self.0.get(name)
    }
    pub fn has(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }
    getter!(int, int_or, Int, i64, "int");
    getter!(float, float_or, Float, f32, "float");
    getter!(string, string_or, String, String, "string");
    getter!(ints, ints_or, Ints, Vec<i64>, "ints");
    getter!(floats, floats_or, Floats, Vec<f32>, "floats");
    getter!(strings, strings_or, Strings, Vec<String>, "strings");
    getter!(tensor, tensor_or, Tensor, Tensor, "tensor");
    getter!(graph, graph_or, Graph, Arc<Graph>, "graph");

    /// A required attribute.
    pub fn req_graph(&self, name: &str) -> Result<Arc<Graph>> {
        self.graph(name)?
            .ok_or_else(|| Error::invalid(format!("missing graph attribute '{name}'")))
    }
    pub fn req_int(&self, name: &str) -> Result<i64> {
        self.int(name)?
            .ok_or_else(|| Error::invalid(format!("missing int attribute '{name}'")))
    }
    pub fn req_ints(&self, name: &str) -> Result<Vec<i64>> {
        self.ints(name)?
            .ok_or_else(|| Error::invalid(format!("missing ints attribute '{name}'")))
    }
    pub fn req_string(&self, name: &str) -> Result<String> {
        self.string(name)?
            .ok_or_else(|| Error::invalid(format!("missing string attribute '{name}'")))
    }
    pub fn req_tensor(&self, name: &str) -> Result<Tensor> {
        self.tensor(name)?
            .ok_or_else(|| Error::invalid(format!("missing tensor attribute '{name}'")))
    }
}
