//! Builds graphs op by op, in the spirit of MPSGraph: placeholders, constants, then one
//! call per op returning value handles. The ONNX importer builds through the same API.
//!
//! ```
//! use smelt_ops::{GraphBuilder, builder::Conv};
//! use smelt_core::{DType, Dim, Tensor};
//! let mut b = GraphBuilder::new("tiny_cnn");
//! let x = b.placeholder("image", DType::F32, &[Dim::Sym("N".into()), Dim::Fixed(1), Dim::Fixed(8), Dim::Fixed(8)]);
//! let w = b.constant("w", Tensor::from_vec(vec![4, 1, 3, 3], (0..36).map(|i| (i as f32 - 18.0) / 36.0).collect()).unwrap());
//! let y = b.conv2d(x, w, None, &Conv { pads: [1, 1, 1, 1], ..Conv::default() }).unwrap();
//! let y = b.relu(y).unwrap();
//! let y = b.max_pool2d(y, [2, 2], [2, 2]).unwrap();
//! let y = b.flatten(y, 1).unwrap();
//! let w2 = b.constant("fc", Tensor::from_vec(vec![64, 10], (0..640).map(|i| ((i % 7) as f32 - 3.0) / 10.0).collect()).unwrap());
//! let logits = b.matmul(y, w2).unwrap();
//! let probs = b.softmax(logits, -1).unwrap();
//! b.output(probs, "probs");
//! let graph = b.build().unwrap();
//!
//! let image = Tensor::from_vec(vec![1, 1, 8, 8], (0..64).map(|i| (i as f32).sin()).collect()).unwrap();
//! let out = smelt_cpu::run(&graph, vec![("image".into(), image)]).unwrap();
//! let p = out[0].1.as_slice::<f32>().unwrap();
//! assert_eq!(out[0].1.shape(), &[1, 10]);
//! assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
//! ```

use smelt_core::{check_dims, DType, Dim, Error, Result, Tensor, ValueInfo};
use smelt_ir::op::InferCtx;
use smelt_ir::{Attr, Attributes, Graph, Node, OpCtx, Registry, ValueId};
use std::collections::HashMap;
use std::sync::Arc;

/// A handle to a value of the graph under construction.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct V(pub ValueId);

pub struct GraphBuilder {
    graph: Graph,
    registry: &'static Registry,
    opsets: HashMap<String, i64>,
    counter: usize,
}

/// Attributes of a 2-D convolution (NCHW input, OIHW weights).
#[derive(Clone, Debug)]
pub struct Conv {
    pub strides: [i64; 2],
    /// top, left, bottom, right
    pub pads: [i64; 4],
    pub dilations: [i64; 2],
    pub groups: i64,
}

impl Default for Conv {
    fn default() -> Self {
        Conv {
            strides: [1, 1],
            pads: [0; 4],
            dilations: [1, 1],
            groups: 1,
        }
    }
}

/// The default ONNX opset the builder targets.
pub const DEFAULT_OPSET: i64 = 21;

impl GraphBuilder {
    pub fn new(name: &str) -> Self {
        Self::with_registry(name, crate::registry())
    }

    pub fn with_registry(name: &str, registry: &'static Registry) -> Self {
        let mut opsets = HashMap::new();
        opsets.insert(String::new(), DEFAULT_OPSET);
        opsets.insert("ai.onnx.ml".to_string(), 5);
        GraphBuilder {
            graph: Graph::new(name),
            registry,
            opsets,
            counter: 0,
        }
    }

    pub fn set_opset(&mut self, domain: &str, version: i64) {
        self.opsets
            .insert(smelt_ir::op::normalize_domain(domain).to_string(), version);
    }
    pub fn opsets(&self) -> &HashMap<String, i64> {
        &self.opsets
    }
    pub fn graph(&self) -> &Graph {
        &self.graph
    }
    pub fn graph_mut(&mut self) -> &mut Graph {
        &mut self.graph
    }

    /// Looks a value up by name.
    pub fn find(&self, name: &str) -> Option<V> {
        self.graph.value_id(name).map(V)
    }

    fn fresh(&mut self, base: &str) -> String {
        loop {
            self.counter += 1;
            let n = format!("{base}_{}", self.counter);
            if self.graph.value_id(&n).is_none() {
                return n;
            }
        }
    }

    fn new_value(&mut self, name: &str, info: ValueInfo) -> Result<V> {
        if self.graph.value_id(name).is_some() {
            return Err(Error::invalid(format!(
                "graph '{}': value '{name}' is defined twice",
                self.graph.name
            )));
        }
        Ok(V(self.graph.add_value(name, info)))
    }

    /// A graph input.
    pub fn placeholder(&mut self, name: &str, dtype: DType, shape: &[Dim]) -> V {
        self.input_info(name, ValueInfo::new(dtype, shape.to_vec()))
            .expect("fresh builder name")
    }

    /// A graph input with a possibly partial type (importers). A declared shape with more
    /// elements than a tensor can have is an error.
    pub fn input_info(&mut self, name: &str, info: ValueInfo) -> Result<V> {
        if let Some(dims) = &info.shape {
            check_dims(dims).map_err(|e| {
                Error::shape(format!("graph '{}': input '{name}': {e}", self.graph.name))
            })?;
        }
        let v = self.new_value(name, info)?;
        self.graph.inputs.push(v.0);
        Ok(v)
    }

    /// A constant tensor.
    pub fn constant(&mut self, name: &str, t: Tensor) -> V {
        let name = if name.is_empty() || self.graph.value_id(name).is_some() {
            self.fresh("const")
        } else {
            name.to_string()
        };
        V(self.graph.add_initializer(name, t))
    }

    /// A value read from an enclosing graph (subgraph bodies).
    pub fn capture(&mut self, name: &str) -> Result<V> {
        let v = self.new_value(name, ValueInfo::unknown())?;
        self.graph.captures.push(v.0);
        Ok(v)
    }

    /// Marks `v` as a graph output, under `name` when it has no name yet.
    pub fn output(&mut self, v: V, name: &str) {
        if !name.is_empty() && self.graph.value_id(name).is_none() {
            self.graph.rename(v.0, name);
        }
        self.graph.outputs.push(v.0);
    }

    /// Adds a node with explicitly named outputs (an empty name is an omitted output).
    pub fn add_node(
        &mut self,
        name: &str,
        domain: &str,
        op_type: &str,
        inputs: &[Option<V>],
        outputs: &[String],
        attrs: Attributes,
    ) -> Result<Vec<Option<V>>> {
        let domain = smelt_ir::op::normalize_domain(domain).to_string();
        let opset = *self.opsets.get(&domain).unwrap_or(&1);
        let node_name = if name.is_empty() {
            format!("{op_type}_{}", self.graph.nodes.len())
        } else {
            name.to_string()
        };
        let ctx = OpCtx {
            attrs: &attrs,
            opset,
            n_inputs: inputs.len(),
            n_outputs: outputs.len(),
            node_name: &node_name,
        };
        let op: Arc<dyn smelt_ir::Op> = Arc::from(
            self.registry
                .build(&domain, op_type, &ctx)
                .map_err(|e| e.in_node(&node_name, op_type))?,
        );
        let in_infos: Vec<Option<ValueInfo>> = inputs
            .iter()
            .map(|i| i.map(|v| self.graph.values[v.0].info.clone()))
            .collect();
        let consts: Vec<Option<Tensor>> = inputs
            .iter()
            .map(|i| i.and_then(|v| self.graph.initializers.get(&v.0).cloned()))
            .collect();
        let infos = op
            .infer(&InferCtx {
                inputs: &in_infos,
                consts: &consts,
                n_outputs: outputs.len(),
            })
            .unwrap_or_else(|_| vec![ValueInfo::unknown(); outputs.len()]);
        // like a failed inference: a shape no tensor can have is not passed on
        let infos: Vec<ValueInfo> = infos
            .into_iter()
            .map(|mut i| {
                if i.shape.as_deref().is_some_and(|d| check_dims(d).is_err()) {
                    i.shape = None;
                }
                i
            })
            .collect();
        let mut outs = Vec::with_capacity(outputs.len());
        for (i, o) in outputs.iter().enumerate() {
            if o.is_empty() {
                outs.push(None);
            } else {
                let info = infos.get(i).cloned().unwrap_or_default();
                outs.push(Some(
                    self.new_value(o, info)
                        .map_err(|e| e.in_node(&node_name, op_type))?,
                ));
            }
        }
        self.graph.nodes.push(Node {
            name: node_name,
            op_type: op_type.to_string(),
            domain,
            attrs,
            inputs: inputs.iter().map(|i| i.map(|v| v.0)).collect(),
            outputs: outs.iter().map(|o| o.map(|v| v.0)).collect(),
            op,
            opset,
        });
        Ok(outs)
    }

    /// Adds a default-domain node with `n` fresh outputs.
    pub fn op_n(
        &mut self,
        op_type: &str,
        inputs: &[V],
        attrs: Attributes,
        n: usize,
    ) -> Result<Vec<V>> {
        let names: Vec<String> = (0..n)
            .map(|_| self.fresh(&op_type.to_lowercase()))
            .collect();
        let ins: Vec<Option<V>> = inputs.iter().map(|&v| Some(v)).collect();
        Ok(self
            .add_node("", "", op_type, &ins, &names, attrs)?
            .into_iter()
            .flatten()
            .collect())
    }

    /// Adds a default-domain node with one output.
    pub fn op(&mut self, op_type: &str, inputs: &[V], attrs: Attributes) -> Result<V> {
        Ok(self.op_n(op_type, inputs, attrs, 1)?[0])
    }

    /// Checks the graph and returns it.
    pub fn build(self) -> Result<Graph> {
        smelt_ir::verify(&self.graph)?;
        Ok(self.graph)
    }

    // ---- one method per op ------------------------------------------------------------

    pub fn relu(&mut self, x: V) -> Result<V> {
        self.op("Relu", &[x], Attributes::new())
    }
    pub fn sigmoid(&mut self, x: V) -> Result<V> {
        self.op("Sigmoid", &[x], Attributes::new())
    }
    pub fn tanh(&mut self, x: V) -> Result<V> {
        self.op("Tanh", &[x], Attributes::new())
    }
    pub fn add(&mut self, a: V, b: V) -> Result<V> {
        self.op("Add", &[a, b], Attributes::new())
    }
    pub fn sub(&mut self, a: V, b: V) -> Result<V> {
        self.op("Sub", &[a, b], Attributes::new())
    }
    pub fn mul(&mut self, a: V, b: V) -> Result<V> {
        self.op("Mul", &[a, b], Attributes::new())
    }
    pub fn div(&mut self, a: V, b: V) -> Result<V> {
        self.op("Div", &[a, b], Attributes::new())
    }
    pub fn matmul(&mut self, a: V, b: V) -> Result<V> {
        self.op("MatMul", &[a, b], Attributes::new())
    }
    pub fn softmax(&mut self, x: V, axis: i64) -> Result<V> {
        self.op(
            "Softmax",
            &[x],
            Attributes::new().with("axis", Attr::Int(axis)),
        )
    }
    pub fn flatten(&mut self, x: V, axis: i64) -> Result<V> {
        self.op(
            "Flatten",
            &[x],
            Attributes::new().with("axis", Attr::Int(axis)),
        )
    }
    pub fn transpose(&mut self, x: V, perm: &[i64]) -> Result<V> {
        self.op(
            "Transpose",
            &[x],
            Attributes::new().with("perm", Attr::Ints(perm.to_vec())),
        )
    }
    pub fn reshape(&mut self, x: V, shape: &[i64]) -> Result<V> {
        let s = self.constant("", Tensor::from_vec(vec![shape.len()], shape.to_vec())?);
        self.op("Reshape", &[x, s], Attributes::new())
    }
    pub fn concat(&mut self, xs: &[V], axis: i64) -> Result<V> {
        self.op(
            "Concat",
            xs,
            Attributes::new().with("axis", Attr::Int(axis)),
        )
    }
    pub fn conv2d(&mut self, x: V, w: V, bias: Option<V>, c: &Conv) -> Result<V> {
        let attrs = Attributes::new()
            .with("strides", Attr::Ints(c.strides.to_vec()))
            .with(
                "pads",
                Attr::Ints(vec![c.pads[0], c.pads[1], c.pads[2], c.pads[3]]),
            )
            .with("dilations", Attr::Ints(c.dilations.to_vec()))
            .with("group", Attr::Int(c.groups));
        let ins: Vec<V> = [Some(x), Some(w), bias].into_iter().flatten().collect();
        self.op("Conv", &ins, attrs)
    }
    pub fn max_pool2d(&mut self, x: V, kernel: [i64; 2], strides: [i64; 2]) -> Result<V> {
        let attrs = Attributes::new()
            .with("kernel_shape", Attr::Ints(kernel.to_vec()))
            .with("strides", Attr::Ints(strides.to_vec()));
        self.op("MaxPool", &[x], attrs)
    }
    pub fn avg_pool2d(&mut self, x: V, kernel: [i64; 2], strides: [i64; 2]) -> Result<V> {
        let attrs = Attributes::new()
            .with("kernel_shape", Attr::Ints(kernel.to_vec()))
            .with("strides", Attr::Ints(strides.to_vec()));
        self.op("AveragePool", &[x], attrs)
    }
    pub fn global_avg_pool(&mut self, x: V) -> Result<V> {
        self.op("GlobalAveragePool", &[x], Attributes::new())
    }
    pub fn gemm(&mut self, a: V, b: V, c: Option<V>, trans_b: bool) -> Result<V> {
        let ins: Vec<V> = [Some(a), Some(b), c].into_iter().flatten().collect();
        self.op(
            "Gemm",
            &ins,
            Attributes::new().with("transB", Attr::Int(trans_b as i64)),
        )
    }
}
