//! Location-free nodes: Constant, Shape, Size and the views (Reshape, Flatten, Squeeze,
//! Unsqueeze, Identity, ...) run no kernel and copy nothing; their outputs are host values
//! or views of their input's copies, wherever those live.

use super::{host_of, Executor, Inner, Slot};
use crate::plan::GpuOp;
use smelt_core::{Error, Result, Tensor};
use smelt_ir::Graph;
use std::ops::Deref;

impl<G: Deref<Target = Graph>> Executor<G> {
    /// Constant, Shape, Size and the views: no kernel, no copy (see
    /// [`GpuOp::location_free`]).
    pub(super) fn run_location_free(
        &self,
        inner: &mut Inner,
        env: &mut [Slot],
        n: usize,
        op: &GpuOp,
    ) -> Result<Vec<Slot>> {
        let node = &self.graph.nodes[n];
        let at = |e: Error| e.in_node(&node.name, &node.op_type);
        // the first input's dims, from whichever copy exists
        let first = || -> Result<(usize, Vec<usize>)> {
            let id = node
                .inputs
                .first()
                .copied()
                .flatten()
                .ok_or_else(|| at(Error::invalid("input 0 missing")))?;
            let dims = match (&env[id].dev, &env[id].host) {
                (Some(d), _) => d.shape().to_vec(),
                (None, Some(h)) => h.shape().to_vec(),
                (None, None) => {
                    return Err(at(Error::invalid(format!(
                        "value '{}' not computed",
                        self.graph.values[id].name
                    ))))
                }
            };
            Ok((id, dims))
        };
        let host = |t: Tensor| Slot {
            host: Some(t),
            dev: None,
        };
        match op {
            // evaluated before the run (see `feed`)
            GpuOp::Constant
                if node
                    .outputs
                    .iter()
                    .flatten()
                    .all(|&o| env[o].host.is_some()) =>
            {
                Ok(node
                    .outputs
                    .iter()
                    .map(|o| o.map(|o| env[o].clone()).unwrap_or_default())
                    .collect())
            }
            GpuOp::Shape { start, end } => {
                let v = crate::plan::layout::shape_of(&first()?.1, *start, *end);
                Ok(vec![host(Tensor::from_vec(vec![v.len()], v)?)])
            }
            GpuOp::Size => {
                let n: usize = first()?.1.iter().product();
                Ok(vec![host(Tensor::scalar(n as i64))])
            }
            GpuOp::View(v) => {
                let (id, dims) = first()?;
                let param = match node.inputs.get(1).copied().flatten() {
                    Some(p) => Some(
                        host_of(inner, env, p)
                            .and_then(|t| t.to_i64_vec())
                            .map_err(at)?,
                    ),
                    None => None,
                };
                let out = crate::plan::layout::view_shape(v, &dims, param).map_err(at)?;
                let s = &env[id];
                Ok(vec![Slot {
                    host: s
                        .host
                        .as_ref()
                        .map(|h| h.reshape(out.clone()))
                        .transpose()
                        .map_err(at)?,
                    dev: s
                        .dev
                        .as_ref()
                        .map(|d| d.view(out.clone()))
                        .transpose()
                        .map_err(at)?,
                }])
            }
            // the value is evaluated on the host; its device copy is cached across runs
            _ => self.run_cpu(inner, env, n),
        }
    }
}
