//! The CUDA side of `plan::softmax_fuse`: one warp per row of up to 1024 values (the
//! arithmetic of `softmax_warp_f32`, norm.cu), the group before computed as the row is
//! loaded and the group after as it is stored, rendered and compiled with NVRTC like the
//! element-wise groups (`super::fused`, same device functions, no contraction), so the
//! result equals the three kernels run apart.

use super::fused::{
    group_lines, kernel_head, launch_generated, leaf_index, out_type, strided_offsets, Access,
};
use crate::cuda::device::Func;
use crate::cuda::stream::Stream;
use crate::cuda::tensor::GpuTensor;
use crate::plan::fuse::{Fusion, Ty};
use crate::plan::{broadcast_shape, i32_of, BLOCK};
use smelt_core::{DType, Error, Result};
use std::collections::HashMap;
use std::fmt::Write;

/// Compiled kernels by (fusion index, leaf accesses, row length).
#[derive(Default)]
pub(crate) struct Kernels(HashMap<(usize, Vec<Access>, usize), Func>);

/// Softmax (`kind` 0) or LogSoftmax (1) over the last axis with `pre` computing its input
/// and `post` (with the index of its leaf that is the softmax output) reading its output.
/// `leaves` are the kernel's inputs: the softmax input when there is no `pre`, else
/// `pre`'s leaves; then `post`'s leaves other than the softmax output. Returns `post`'s
/// output (the softmax's without it), in 16-bit `out16` when given. Rows over 1024
/// values, or leaves that do not broadcast to the softmax shape, are
/// `Error::UnsupportedOp` (the executor then runs the three apart).
#[allow(clippy::too_many_arguments)]
pub(crate) fn run(
    s: &Stream,
    kernels: &mut Kernels,
    k: usize,
    kind: i32,
    pre: Option<&Fusion>,
    post: Option<(&Fusion, usize)>,
    leaves: &[&GpuTensor],
    out16: Option<DType>,
) -> Result<GpuTensor> {
    let n_in = pre.map_or(1, |f| f.leaves.len());
    let shapes: Vec<&[usize]> = leaves[..n_in].iter().map(|x| x.shape()).collect();
    let shape = broadcast_shape(&shapes)?;
    let mut all: Vec<&[usize]> = leaves.iter().map(|x| x.shape()).collect();
    all.push(&shape);
    if broadcast_shape(&all)? != shape {
        return Err(Error::unsupported(
            "fused softmax",
            "a leaf of the group after broadcasts past the softmax shape",
        ));
    }
    let n = *shape.last().unwrap_or(&1);
    if n > 1024 {
        return Err(Error::unsupported(
            "fused softmax",
            format!("rows of {n} values"),
        ));
    }
    let y = s.alloc(out16.unwrap_or(DType::F32), &shape)?;
    if y.is_empty() {
        return Ok(y);
    }
    let expect = |x: &GpuTensor, t: Ty| {
        let want = super::fused::dtype(t);
        if x.dtype() == want {
            Ok(())
        } else {
            Err(Error::unsupported(
                "fused softmax",
                format!("a leaf is {}, planned {want}", x.dtype()),
            ))
        }
    };
    match pre {
        Some(f) => {
            for ((_, t), x) in f.leaves.iter().zip(leaves) {
                expect(x, *t)?;
            }
        }
        None => expect(leaves[0], Ty::F32)?,
    }
    if let Some((f, given)) = post {
        for ((_, t), x) in f.leaves_but(given).zip(&leaves[n_in..]) {
            expect(x, *t)?;
        }
    }
    let (access, blob) = leaf_index(&shape, leaves)?;
    let func = match kernels.0.get(&(k, access.clone(), n)) {
        Some(&f) => f,
        None => {
            let src = render(kind, pre, post, leaves.len(), &access, out16, n);
            let f = s.dev.generated(&src, "fused_softmax")?;
            kernels.0.insert((k, access, n), f);
            f
        }
    };
    let ints = [i32_of(y.len() / n, "rows")?, i32_of(n, "row length")?];
    // a warp per row
    let grid = (y.len() / n).div_ceil((BLOCK / 32) as usize) as u32;
    launch_generated(
        s,
        func,
        "fused_softmax",
        &y,
        leaves,
        &ints,
        &blob,
        (grid, BLOCK),
    )?;
    Ok(y)
}

/// The kernel source: `fused_softmax(T* y, const T0* x0, .., int rows, int n, FIdx s)`
/// for rows of `n` values (at most 1024; compiled in, so each lane's loop runs
/// ceil(n / 32) times and only a partial last pass tests its bound). A strided leaf's
/// offset is computed once per row (`strided_offsets`) and stepped along it.
fn render(
    kind: i32,
    pre: Option<&Fusion>,
    post: Option<(&Fusion, usize)>,
    nl: usize,
    access: &[Access],
    out16: Option<DType>,
    n: usize,
) -> String {
    let n_in = pre.map_or(1, |f| f.leaves.len());
    let mut types: Vec<Ty> = match pre {
        Some(f) => f.leaves.iter().map(|(_, t)| *t).collect(),
        None => vec![Ty::F32],
    };
    if let Some((f, given)) = post {
        types.extend(f.leaves_but(given).map(|(_, t)| *t));
    }
    debug_assert_eq!(types.len(), nl);
    let nk = n.div_ceil(32).max(1);
    let mut k = kernel_head("fused_softmax", out_type(Ty::F32, out16), &types);
    k += ", int rows, int n_, FIdx s) {\n";
    let _ = writeln!(k, "    const int n = {n};");
    k += "    int r = (blockIdx.x * blockDim.x + threadIdx.x) >> 5, lane = threadIdx.x & 31;\n";
    k += "    if (r >= rows) return;\n";
    let strided: Vec<usize> = (0..nl).filter(|&p| access[p] == Access::Strided).collect();
    if !strided.is_empty() {
        let _ = writeln!(k, "    {}", strided_offsets(&strided, "r * n", "ob"));
    }
    let _ = writeln!(k, "    float v[{nk}];\n    float m = (-SM_INF);");
    let _ = writeln!(
        k,
        "#pragma unroll\n    for (int k = 0; k < {nk}; ++k) {{\n        int j = lane + 32 * k;"
    );
    k += "        float in = (-SM_INF);\n        if (j < n) {\n            int i = r * n + j;\n";
    match pre {
        Some(f) => {
            let param: Vec<Option<usize>> = (0..f.leaves.len()).map(Some).collect();
            k += "            {\n";
            for line in group_lines(f, &param, access, None, true) {
                let _ = writeln!(k, "            {line}");
            }
            let _ = writeln!(
                k,
                "            in = t{};\n            }}",
                f.steps.len() - 1
            );
        }
        None => k += "            in = x0[i];\n",
    }
    k +=
        "        }\n        v[k] = in;\n        m = fmaxf(m, v[k]);\n    }\n    m = warp_max(m);\n";
    let _ = writeln!(
        k,
        "    float sum = 0.0f;\n#pragma unroll\n    for (int k = 0; k < {nk}; ++k) {{"
    );
    k += "        int j = lane + 32 * k;\n        float e = j < n ? expf(v[k] - m) : 0.0f;\n";
    let _ = writeln!(
        k,
        "        sum += e;\n        if (!{kind}) v[k] = e;\n    }}"
    );
    k += "    sum = warp_sum(sum);\n    float ls = logf(sum), inv = 1.0f / sum;\n";
    let _ = writeln!(
        k,
        "#pragma unroll\n    for (int k = 0; k < {nk}; ++k) {{\n        int j = lane + 32 * k;"
    );
    k += "        if (j < n) {\n            int i = r * n + j;\n";
    let _ = writeln!(
        k,
        "            float p = {kind} ? v[k] - m - ls : v[k] * inv;\n            float o = p;"
    );
    if let Some((f, given)) = post {
        let mut next = n_in;
        let param: Vec<Option<usize>> = (0..f.leaves.len())
            .map(|j| {
                (j != given).then(|| {
                    next += 1;
                    next - 1
                })
            })
            .collect();
        k += "            {\n";
        for line in group_lines(f, &param, access, Some((given, "p")), true) {
            let _ = writeln!(k, "            {line}");
        }
        let _ = writeln!(k, "            o = t{};\n            }}", f.steps.len() - 1);
    }
    let _ = match out16 {
        Some(d) => writeln!(
            k,
            "            y[i] = to_16bit(o, {});",
            (d == DType::BF16) as i32
        ),
        None => writeln!(k, "            y[i] = o;"),
    };
    k += "        }\n    }\n}\n";
    k
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::fuse::{plan, Uses};
    use crate::plan::op::GpuOp;

    /// The attention softmax (s / 8 + m, Softmax, the NaN guard; its first node is the
    /// Div, the third the Softmax) renders with each leaf
    /// read as planned, and compiles with NVRTC where libnvrtc is present.
    #[test]
    fn renders_and_compiles_an_attention_softmax() {
        let g = crate::plan::softmax_fuse::tests::attention_graph();
        let ops: Vec<Option<GpuOp>> = g.nodes.iter().map(|n| GpuOp::from_node(n).ok()).collect();
        let groups = plan(&g, &ops, &Uses::of(&g));
        let (pre, post) = (&groups[0], &groups[1]);
        let given = post
            .leaves
            .iter()
            .position(|(id, _)| Some(*id) == g.nodes[2].outputs[0]);
        let given = given.expect("the softmax output is a leaf of the guard");
        // kernel leaves: s (full), eight (scalar), m (strided), then zero (scalar)
        let access = [
            Access::Full,
            Access::Scalar,
            Access::Strided,
            Access::Scalar,
        ];
        let src = render(
            0,
            Some(pre),
            Some((post, given)),
            4,
            &access,
            Some(DType::F16),
            128,
        );
        assert!(src.contains("float l0 = x0[i];"), "{src}");
        assert!(
            src.contains("ob2 += q * s.st[2][d];")
                && src.contains("x2[ob2 + j * s.st[2][s.rank - 1]]")
                && src.contains("const int n = 128;")
                && src.contains("float v[4];"),
            "{src}"
        );
        assert!(src.contains(&format!("float l{given} = p;")), "{src}");
        assert!(
            src.contains("x3[0]") && src.contains("y[i] = to_16bit(o, 0);"),
            "{src}"
        );
        let plain = render(1, None, None, 1, &[Access::Full], None, 1000);
        assert!(
            plain.contains("in = x0[i];")
                && plain.contains("y[i] = o;")
                && plain.contains("float v[32];"),
            "{plain}"
        );
        if !crate::cuda::device::nvrtc_present() {
            eprintln!("SKIP: libnvrtc not found (the generated kernels are not compiled here)");
            return;
        }
        std::env::set_var("SMELT_KERNEL_CACHE", "off");
        for s in [&src, &plain] {
            let ptx = crate::cuda::device::compile_generated(s, "--gpu-architecture=compute_90")
                .unwrap_or_else(|e| panic!("{e}\n{s}"));
            assert!(
                ptx.contains(".entry fused_softmax("),
                "no kernel in the PTX"
            );
        }
    }
}
