//! Graphs, nodes and values.

use crate::{Attributes, Op};
use smelt_core::{Error, Result, Tensor, ValueInfo};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Index of a value in [`Graph::values`].
pub type ValueId = usize;

/// A named edge of the graph and what is known of its type.
#[derive(Clone, Debug)]
pub struct Value {
    pub name: String,
    pub info: ValueInfo,
}

/// One op application. Inputs and outputs may be absent (`None`): ONNX's optional slots.
#[derive(Clone, Debug)]
pub struct Node {
    pub name: String,
    pub op_type: String,
    /// Empty for the default ONNX domain.
    pub domain: String,
    pub attrs: Attributes,
    pub inputs: Vec<Option<ValueId>>,
    pub outputs: Vec<Option<ValueId>>,
    pub op: Arc<dyn Op>,
    /// The opset version of the node's domain its op was built for (what opset-dependent
    /// defaults and rules were resolved against).
    pub opset: i64,
}

impl Node {
    /// The node's op as its concrete type, when it is one: `node.op_as::<Conv>()`.
    pub fn op_as<T: Op + 'static>(&self) -> Option<&T> {
        self.op.as_ref().as_any().downcast_ref::<T>()
    }

    /// Checks that an evaluation gave at least every output up to the last one this node
    /// names (trailing optional outputs may be left out); the error names the node.
    pub fn check_output_count(&self, produced: usize) -> Result<()> {
        let needed = self
            .outputs
            .iter()
            .rposition(|o| o.is_some())
            .map_or(0, |p| p + 1);
        if produced < needed {
            return Err(Error::invalid(format!(
                "produced {produced} outputs, node declares {}",
                self.outputs.len()
            ))
            .in_node(&self.name, &self.op_type));
        }
        Ok(())
    }
}

/// A graph. Nodes are in topological order (checked by [`crate::verify`]).
#[derive(Clone, Debug, Default)]
pub struct Graph {
    pub name: String,
    pub values: Vec<Value>,
    pub nodes: Vec<Node>,
    pub inputs: Vec<ValueId>,
    pub outputs: Vec<ValueId>,
    /// Constant values (ONNX initializers), by value.
    pub initializers: BTreeMap<ValueId, Tensor>,
    /// Values a subgraph reads from an enclosing graph, resolved by name when it runs.
    pub captures: Vec<ValueId>,
    by_name: HashMap<String, ValueId>,
}

impl Graph {
    pub fn new(name: impl Into<String>) -> Self {
        Graph {
            name: name.into(),
            ..Default::default()
        }
    }

    /// Adds a value; a name already in the graph gets a numeric suffix.
    pub fn add_value(&mut self, name: impl Into<String>, info: ValueInfo) -> ValueId {
        let mut name = name.into();
        if self.by_name.contains_key(&name) || name.is_empty() {
            let base = if name.is_empty() {
                "v".to_string()
            } else {
                name.clone()
            };
            let mut i = self.values.len();
            loop {
                name = format!("{base}.{i}");
                if !self.by_name.contains_key(&name) {
                    break;
                }
                i += 1;
            }
        }
        let id = self.values.len();
        self.by_name.insert(name.clone(), id);
        self.values.push(Value { name, info });
        id
    }

    pub fn value_id(&self, name: &str) -> Option<ValueId> {
        self.by_name.get(name).copied()
    }

    /// Renames a value; false when the new name is taken.
    pub fn rename(&mut self, id: ValueId, name: &str) -> bool {
        if self.by_name.contains_key(name) {
            return false;
        }
        let old = std::mem::replace(&mut self.values[id].name, name.to_string());
        self.by_name.remove(&old);
        self.by_name.insert(name.to_string(), id);
        true
    }

    pub fn value(&self, id: ValueId) -> &Value {
        &self.values[id]
    }

    pub fn add_initializer(&mut self, name: impl Into<String>, t: Tensor) -> ValueId {
        let id = self.add_value(name, ValueInfo::fixed(t.dtype(), t.shape()));
        self.initializers.insert(id, t);
        id
    }

    pub fn input_names(&self) -> Vec<&str> {
        self.inputs
            .iter()
            .map(|&i| self.values[i].name.as_str())
            .collect()
    }
    pub fn output_names(&self) -> Vec<&str> {
        self.outputs
            .iter()
            .map(|&i| self.values[i].name.as_str())
            .collect()
    }

    /// Total bytes of constant tensors.
    pub fn weight_bytes(&self) -> usize {
        self.initializers.values().map(|t| t.byte_size()).sum()
    }
    /// Total elements of constant tensors.
    pub fn parameter_count(&self) -> usize {
        self.initializers.values().map(|t| t.len()).sum()
    }
}
