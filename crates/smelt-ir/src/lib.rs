//! The portable graph IR: what importers build, passes rewrite and packages save.
//!
//! A [`Graph`] holds [`Value`]s (named, typed edges) and [`Node`]s in topological order. Each
//! node keeps its op both as data (`op_type`, `domain`, [`Attributes`], so it can be saved by
//! name) and as a constructed [`Op`] (the attributes parsed and checked once). Ops are made by
//! factories in a [`Registry`], keyed by domain and op type.

pub mod attr;
pub mod backend;
pub mod edit;
pub mod graph;
pub mod op;
pub mod verify;

pub use attr::{Attr, Attributes};
pub use backend::{Backend, DeviceInfo, DeviceKind, Support};
pub use edit::{Editor, NodeId, Slot, Uses};
pub use graph::{Graph, Node, Value, ValueId};
pub use op::{
    AsAny, EvalCtx, F32Map, InferCtx, NoSubgraphs, Op, OpCtx, OpFactory, Registry, SubgraphRunner,
};
pub use verify::verify;
