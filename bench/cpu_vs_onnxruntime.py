#!/usr/bin/env python3
"""CPU latency and peak memory: smelt vs ONNX Runtime, same models, same inputs, same threads.

Runs every golden case of tests/golden/cases.txt (real models on real inputs). Each runtime
runs in its own process: one warm-up run, then RUNS timed runs; we report the median, min and
max latency, and the process's peak resident memory. smelt runs through
`target/release/smelt run --repeat` (build it first: `cargo build --release -p smelt-cli`),
twice: on the package `smelt convert --keep-graph` writes (the graph as imported) and on the
one `smelt convert` writes (after the portable passes: folding, BatchNorm folding, fusions),
so the passes' effect is measured in the same run as the peer.

Usage: python3 bench/cpu_vs_onnxruntime.py [--threads 2] [--runs 20] [CASE ...]
Needs: pip install onnxruntime numpy (bench only; the tests never need them).
"""
import argparse, json, os, re, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.environ.get("SMELT_CACHE", os.path.join(ROOT, ".cache"))

ORT_CHILD = r"""
import json, resource, sys, time
import numpy as np, onnxruntime as ort
model, threads, runs, inputs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4])
so = ort.SessionOptions(); so.intra_op_num_threads = threads; so.inter_op_num_threads = 1
s = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
feed = {k: np.load(v) for k, v in inputs.items()}
s.run(None, feed)
ms = []
for _ in range(runs):
    t = time.perf_counter(); s.run(None, feed); ms.append((time.perf_counter() - t) * 1e3)
ms.sort()
print(json.dumps({"median": ms[len(ms) // 2], "min": ms[0], "max": ms[-1],
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def cases():
    out, cur = {}, None
    for line in open(os.path.join(ROOT, "tests/golden/cases.txt")):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            cur = line.strip("[]")
            out[cur] = {"inputs": {}}
            continue
        k, v = [x.strip() for x in line.split("=", 1)]
        if k.startswith("input "):
            out[cur]["inputs"][k[6:].strip()] = os.path.join(ROOT, "tests/golden", cur, v)
        elif k in ("package", "model"):
            out[cur][k] = v
    for c in out.values():
        base = ROOT if c["package"] == "-" else os.path.join(CACHE, c["package"])
        c["path"] = os.path.join(base, c["model"])
    return out


def package(c, name, keep_graph):
    """The case's model converted to .ingot under bench/.out/ (with or without the passes)."""
    out = os.path.join(ROOT, "bench", ".out", f"{name}{'.keep' if keep_graph else ''}.ingot")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    args = [os.path.join(ROOT, "target/release/smelt"), "convert", c["path"], "-o", out]
    if keep_graph:
        args.append("--keep-graph")
    subprocess.run(args, capture_output=True, text=True, check=True)
    return out


def run_smelt(c, threads, runs, model=None):
    exe = os.path.join(ROOT, "target/release/smelt")
    args = [exe, "run", model or c["path"], "--no-save", "--repeat", str(runs)]
    for k, v in c["inputs"].items():
        args += ["--input", f"{k}={v}"]
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    out = subprocess.run(args, capture_output=True, text=True, env=env, check=True).stdout
    m = re.search(r"median ([\d.]+) ms, min ([\d.]+) ms, max ([\d.]+) ms; peak RSS ([\d.]+) MiB", out)
    return {"median": float(m[1]), "min": float(m[2]), "max": float(m[3]), "peak_mib": float(m[4])}


def run_ort(c, threads, runs):
    out = subprocess.run([sys.executable, "-c", ORT_CHILD, c["path"], str(threads), str(runs), json.dumps(c["inputs"])],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("case", nargs="*")
    a = ap.parse_args()
    all_cases = cases()
    names = a.case or list(all_cases)
    print(f"threads {a.threads}, {a.runs} timed runs after 1 warm-up; latency ms median [min-max]; peak RSS MiB")
    print("smelt as imported: the package of `smelt convert --keep-graph`; smelt passes: of `smelt convert`")
    print(f"{'case':<16} {'smelt as imported':>24} {'smelt passes':>24} {'onnxruntime':>24} {'imported/ort':>12} "
          f"{'passes/ort':>10} {'RSS smelt':>10} {'RSS ort':>8}")
    for n in names:
        c = all_cases[n]
        k = run_smelt(c, a.threads, a.runs, package(c, n, True))
        s = run_smelt(c, a.threads, a.runs, package(c, n, False))
        o = run_ort(c, a.threads, a.runs)
        fmt = lambda r: f"{r['median']:.2f} [{r['min']:.2f}-{r['max']:.2f}]"
        print(f"{n:<16} {fmt(k):>24} {fmt(s):>24} {fmt(o):>24} {k['median'] / o['median']:>12.2f} "
              f"{s['median'] / o['median']:>10.2f} {s['peak_mib']:>10.1f} {o['peak_mib']:>8.1f}", flush=True)


if __name__ == "__main__":
    main()
