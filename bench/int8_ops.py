#!/usr/bin/env python3
"""Integer conv / matmul latency: smelt vs ONNX Runtime on one-op models.

Builds (with the `onnx` package) one model per case under bench/.out/int8_ops/: ConvInteger
3x3, 1x1 and depthwise, MatMulInteger, QLinearConv and QLinearMatMul, at shapes from
ResNet-50 and BERT-base, weights as initializers and the activation as the only input (random,
non-zero, the same .npy file for both runtimes). Each runtime runs in its own process (one
warm-up run, then RUNS timed runs, as bench/cpu_vs_onnxruntime.py does, whose ORT child and
output parsing this reuses); latency in ms, median [min-max].

Usage: python3 bench/int8_ops.py [--threads 1 2] [--runs 20] [--smelt PATH] [CASE ...]
Needs: pip install onnx onnxruntime numpy; a release CLI (cargo build --release -p smelt-cli).
"""
import argparse, os, re, subprocess, sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cpu_vs_onnxruntime import ROOT, run_ort  # noqa: E402

OUT = os.path.join(ROOT, "bench", ".out", "int8_ops")
RNG = np.random.default_rng(20261207)


def rand(shape, dtype):
    """Uniform over the dtype's range, with no zeros."""
    info = np.iinfo(dtype)
    v = RNG.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)
    v[v == 0] = 1
    return v


def init(name, v):
    return numpy_helper.from_array(np.asarray(v), name)


def conv_integer(cin, cout, hw, k, group=1, stride=1):
    """ConvInteger, x u8 [1, cin, hw, hw], w u8 [cout, cin/group, k, k], 'same' pads."""
    p = k // 2
    ins = ["x", "w", "x_zp", "w_zp"]
    node = helper.make_node("ConvInteger", ins, ["y"], pads=[p] * 4, strides=[stride] * 2,
                            group=group, kernel_shape=[k, k])
    inits = [init("w", rand((cout, cin // group, k, k), np.uint8)), init("x_zp", np.uint8(128)),
             init("w_zp", np.uint8(119))]
    return node, ("x", (1, cin, hw, hw), np.uint8), TensorProto.INT32, inits


def matmul_integer(m, k, n):
    """MatMulInteger, a u8 [m, k] (per-tensor zp), b i8 [k, n] (per-column zp)."""
    node = helper.make_node("MatMulInteger", ["a", "b", "a_zp", "b_zp"], ["y"])
    inits = [init("b", rand((k, n), np.int8)), init("a_zp", np.uint8(131)),
             init("b_zp", rand((n,), np.int8))]
    return node, ("a", (m, k), np.uint8), TensorProto.INT32, inits


def qlinear_conv(cin, cout, hw, k):
    """QLinearConv, x u8, w i8 per-output-channel scale, bias, y u8."""
    p = k // 2
    ins = ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "bias"]
    node = helper.make_node("QLinearConv", ins, ["y"], pads=[p] * 4, kernel_shape=[k, k])
    inits = [init("xs", np.float32(0.02)), init("xz", np.uint8(128)),
             init("w", rand((cout, cin, k, k), np.int8)),
             init("ws", RNG.uniform(0.001, 0.01, cout).astype(np.float32)),
             init("wz", np.zeros(cout, np.int8)), init("ys", np.float32(0.5)),
             init("yz", np.uint8(120)), init("bias", rand((cout,), np.int16).astype(np.int32))]
    return node, ("x", (1, cin, hw, hw), np.uint8), TensorProto.UINT8, inits


def qlinear_matmul(m, k, n):
    """QLinearMatMul, a u8 [m, k], b u8 [k, n], per-tensor scales, y u8."""
    ins = ["a", "as", "az", "b", "bs", "bz", "ys", "yz"]
    node = helper.make_node("QLinearMatMul", ins, ["y"])
    inits = [init("as", np.float32(0.02)), init("az", np.uint8(128)),
             init("b", rand((k, n), np.uint8)), init("bs", np.float32(0.003)),
             init("bz", np.uint8(125)), init("ys", np.float32(2.0)), init("yz", np.uint8(128))]
    return node, ("a", (m, k), np.uint8), TensorProto.UINT8, inits


CASES = {
    "conv3x3 64x56x56": lambda: conv_integer(64, 64, 56, 3),
    "conv1x1 256->64 56x56": lambda: conv_integer(256, 64, 56, 1),
    "conv3x3 s2 128x28x28": lambda: conv_integer(128, 128, 28, 3, stride=2),
    "depthwise3x3 128x56x56": lambda: conv_integer(128, 128, 56, 3, group=128),
    "matmul 128x768x3072": lambda: matmul_integer(128, 768, 3072),
    "matmul 1x768x768": lambda: matmul_integer(1, 768, 768),
    "qlinearconv 64x56x56": lambda: qlinear_conv(64, 64, 56, 3),
    "qlinearmatmul 128x768x768": lambda: qlinear_matmul(128, 768, 768),
}


def build(name):
    """Writes the case's model and input; returns the dict run_ort / run_smelt take."""
    node, (xname, xshape, xdt), ydt, inits = CASES[name]()
    slug = re.sub(r"[^a-z0-9]+", "_", name)
    os.makedirs(OUT, exist_ok=True)
    tin = helper.make_tensor_value_info(xname, helper.np_dtype_to_tensor_dtype(np.dtype(xdt)), xshape)
    tout = helper.make_tensor_value_info("y", ydt, None)
    g = helper.make_graph([node], slug, [tin], [tout], initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    path = os.path.join(OUT, slug + ".onnx")
    onnx.save(m, path)
    x = os.path.join(OUT, slug + ".x.npy")
    np.save(x, rand(xshape, xdt))
    return {"path": path, "inputs": {xname: x}}


def run_smelt(exe, c, threads, runs):
    args = [exe, "run", c["path"], "--no-save", "--repeat", str(runs), "--threads", str(threads)]
    for k, v in c["inputs"].items():
        args += ["--input", f"{k}={v}"]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    m = re.search(r"median ([\d.]+) ms, min ([\d.]+) ms, max ([\d.]+) ms", out)
    return {"median": float(m[1]), "min": float(m[2]), "max": float(m[3])}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--smelt", default=os.path.join(ROOT, "target/release/smelt"))
    ap.add_argument("case", nargs="*", help=f"any of: {', '.join(CASES)}")
    a = ap.parse_args()
    print(f"{a.runs} timed runs after 1 warm-up; latency ms median [min-max]; smelt: {a.smelt}")
    print(f"{'case':<28} {'thr':>3} {'smelt':>26} {'onnxruntime':>24} {'smelt/ort':>9}")
    fmt = lambda r: f"{r['median']:.2f} [{r['min']:.2f}-{r['max']:.2f}]"
    for name in a.case or list(CASES):
        c = build(name)
        for t in a.threads:
            s = run_smelt(a.smelt, c, t, a.runs)
            o = run_ort(c, t, a.runs)
            print(f"{name:<28} {t:>3} {fmt(s):>26} {fmt(o):>24} {s['median'] / o['median']:>9.2f}", flush=True)


if __name__ == "__main__":
    main()
