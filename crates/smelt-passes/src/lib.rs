//! Graph passes: rewrites of the portable graph that keep what it computes.
//!
//! Pipeline position: after import, before compression and packaging. `smelt convert` runs
//! [`portable`] and saves the result in the `.ingot` (`--keep-graph` saves the graph as
//! imported). Every pass is a named rule over one graph (subgraphs of If/Loop/Scan are left
//! as they are); the [`Report`] counts what each rule changed, and [`run`] verifies the
//! graph after every pass, naming the pass that broke it.
//!
//! The passes, in the order [`portable`] runs them:
//! - `constants` ([`constants`]): Constant nodes become initializers; a pure node whose
//!   inputs are all constant is evaluated once (shape subgraphs included: `Shape` of a value
//!   whose shape is known), unless its outputs would be larger than its inputs and 64 KiB
//!   (folding must never inflate a package, e.g. dequantize int8 weights to f32);
//! - `declutter` ([`declutter`]): Identity, inference Dropout and Cast to the same type are
//!   removed, a Reshape of a Reshape reads the first one's input;
//! - `batchnorm` ([`batchnorm`]): an inference BatchNormalization folded into the Conv
//!   before it (weights scaled, bias shifted);
//! - `conv_affine` ([`conv_affine`]): a Mul, Div, Add or Sub by a per-channel constant
//!   after a Conv folded into its weights and bias (a BatchNorm written out);
//! - `cse` ([`cse`]): nodes with the same op, attributes and inputs computed once;
//! - `fuse` ([`fuse`]): patterns written out in primitives become the op that computes them
//!   (LayerNormalization, HardSwish, Gelu);
//! - `dead` ([`dead`]): nodes whose outputs nothing reads are removed, and unread
//!   initializers dropped.
//!
//! Per-device lowering passes ([`lower`]), run on the copy of the graph a device executes
//! and never saved: `decode` evaluates compressed-weight decodes once for a device that
//! would otherwise run them on every prediction; `conv_epilogue` fuses a Conv with the
//! residual Add and activation after it into `ai.smelt::FusedConv`.

pub mod batchnorm;
pub mod constants;
pub mod conv_affine;
pub mod cse;
pub mod dead;
pub mod declutter;
pub mod fuse;
pub mod lower;

use smelt_core::{Error, Result};
use smelt_ir::Graph;

/// One named rewrite rule over a graph.
pub trait Pass: Sync {
    /// The rule's name, as reports and errors print it.
    fn name(&self) -> &'static str;
    /// Rewrites `g` in place; returns how many rewrites it made.
    fn run(&self, g: &mut Graph) -> Result<usize>;
}

/// What a pipeline did: (pass name, rewrites) in the order run, and the node counts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    pub passes: Vec<(&'static str, usize)>,
    pub nodes_before: usize,
    pub nodes_after: usize,
}

impl Report {
    /// Rewrites made by the pass named `name` (over all its runs).
    pub fn count(&self, name: &str) -> usize {
        self.passes
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, c)| c)
            .sum()
    }
}

impl std::fmt::Display for Report {
    /// "860 -> 412 nodes (constants 430, declutter 12, batchnorm 0, cse 3, dead 3)"
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        let mut totals: Vec<(&str, usize)> = Vec::new();
        for (n, c) in &self.passes {
            match totals.iter_mut().find(|(t, _)| t == n) {
                Some(t) => t.1 += c,
                None => totals.push((n, *c)),
            }
        }
        let parts: Vec<String> = totals.iter().map(|(n, c)| format!("{n} {c}")).collect();
        write!(
            f,
            "{} -> {} nodes ({})",
            self.nodes_before,
            self.nodes_after,
            parts.join(", ")
        )
    }
}

/// The portable passes, in the order they run (see the crate docs).
pub fn portable() -> Vec<Box<dyn Pass>> {
    vec![
        Box::new(constants::FoldConstants),
        Box::new(declutter::Declutter),
        Box::new(batchnorm::FoldBatchNorm),
        Box::new(conv_affine::FoldConvAffine),
        Box::new(cse::CommonSubexpressions),
        Box::new(fuse::Fuse),
        Box::new(dead::DeadNodes),
    ]
}

/// Runs `passes` over `g` until none changes anything (at most 4 rounds: a fold can make
/// a declutter possible and back), verifying the graph after each pass.
pub fn run(g: &mut Graph, passes: &[Box<dyn Pass>]) -> Result<Report> {
    let mut report = Report {
        nodes_before: g.nodes.len(),
        ..Default::default()
    };
    for _round in 0..4 {
        let mut changed = 0;
        for p in passes {
            let n = p
                .run(g)
                .map_err(|e| Error::invalid(format!("pass '{}': {e}", p.name())))?;
            smelt_ir::verify(g).map_err(|e| {
                Error::invalid(format!("pass '{}' left a broken graph: {e}", p.name()))
            })?;
            report.passes.push((p.name(), n));
            changed += n;
        }
        if changed == 0 {
            break;
        }
    }
    report.nodes_after = g.nodes.len();
    Ok(report)
}

/// Runs the portable passes.
pub fn optimize(g: &mut Graph) -> Result<Report> {
    run(g, &portable())
}
