#!/usr/bin/env python3
"""CPU latency and peak memory: smelt vs ONNX Runtime, same models, same inputs, same threads.

Runs every golden case of tests/golden/cases.txt (real models on real inputs). Each runtime
runs in its own process: one warm-up run, then RUNS timed runs; we report the median, min and
max latency, and the process's peak resident memory. smelt runs through
`target/release/smelt run --repeat` (build it first: `cargo build --release -p smelt-cli`) on
the package `smelt convert` writes (after the portable passes: folding, BatchNorm folding,
fusions), and with --imported also on the one `smelt convert --keep-graph` writes (the graph
as imported), so the passes' effect is measured in the same run as the peers.

Usage: python3 bench/cpu_vs_onnxruntime.py [--threads 1,2] [--runs 20] [--imported] [--unfused]
       [CASE ...]
(--unfused: also smelt without the CPU's lowering fusions, SMELT_NO_FUSE=1, same package.)
Needs: pip install onnxruntime numpy (bench only; the tests never need them). tract
(`cargo install tract-cli`) is run too when it is on PATH or named by $TRACT.
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


def run_smelt(c, threads, runs, model=None, fuse_ops=True):
    exe = os.path.join(ROOT, "target/release/smelt")
    args = [exe, "run", model or c["path"], "--no-save", "--repeat", str(runs)]
    for k, v in c["inputs"].items():
        args += ["--input", f"{k}={v}"]
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    if not fuse_ops:
        env["SMELT_NO_FUSE"] = "1"
    out = subprocess.run(args, capture_output=True, text=True, env=env, check=True).stdout
    m = re.search(r"median ([\d.]+) ms, min ([\d.]+) ms, max ([\d.]+) ms; peak RSS ([\d.]+) MiB", out)
    return {"median": float(m[1]), "min": float(m[2]), "max": float(m[3]), "peak_mib": float(m[4])}


def run_ort(c, threads, runs):
    out = subprocess.run([sys.executable, "-c", ORT_CHILD, c["path"], str(threads), str(runs), json.dumps(c["inputs"])],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


TRACT_CHILD = r"""
import resource, subprocess, sys
r = subprocess.run(sys.argv[1:], capture_output=True, text=True)
sys.stdout.write(r.stdout + r.stderr)
print("MAXRSS_KIB", resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "RC", r.returncode)
"""


def tract_exe():
    """The tract CLI (crates.io `tract-cli`): $TRACT, or `tract` on PATH, or None."""
    import shutil
    return os.environ.get("TRACT") or shutil.which("tract")


def run_tract(name, c, runs, exe):
    """tract's own bench loop (`tract MODEL ... -O bench`) on the case's model and inputs (an
    .npz bundle of them), on one thread (see below)."""
    import numpy as np
    bundle = os.path.join(ROOT, "bench", ".out", f"{name}.inputs.npz")
    os.makedirs(os.path.dirname(bundle), exist_ok=True)
    np.savez(bundle, **{k: np.load(v) for k, v in c["inputs"].items()})
    # the crates.io build has no thread pool (`--threads` is an error there): it runs on one
    # thread; the models' own shape annotations are left to tract's inference from the inputs
    args = [exe, c["path"], "--onnx-ignore-value-info", "--onnx-ignore-output-shapes",
            "--input-facts-from-bundle", bundle, "-O", "bench", "--input-from-npz", bundle,
            "--warmup-loops", "1", "--max-loops", str(runs)]
    out = subprocess.run([sys.executable, "-c", TRACT_CHILD] + args, capture_output=True, text=True).stdout
    m = re.search(r"([\d.]+) ms/i", out) or re.search(r"([\d.]+)\s*ms", out)
    rss = re.search(r"MAXRSS_KIB (\d+) RC (\d+)", out)
    if not m or rss is None or rss[2] != "0":
        # tract's own error chain: the lines after "Caused by:" up to its backtrace
        lines = [l.strip() for l in out.split("Caused by:", 1)[-1].split("Stack backtrace")[0].splitlines()]
        return {"error": [l for l in lines if l][:4] or ["no output"]}
    ms = float(m[1])
    # tract's bench prints the mean of its loop, not each run: no spread to report
    return {"median": ms, "min": ms, "max": ms, "peak_mib": int(rss[1]) / 1024}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", default="2", help="comma-separated thread counts, e.g. 1,2")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--imported", action="store_true",
                    help="also time the graph as imported (`smelt convert --keep-graph`)")
    ap.add_argument("--unfused", action="store_true",
                    help="also time smelt without the CPU's lowering fusions (SMELT_NO_FUSE=1)")
    ap.add_argument("--no-tract", action="store_true", help="skip tract even when it is installed")
    ap.add_argument("case", nargs="*")
    a = ap.parse_args()
    all_cases = cases()
    names = a.case or list(all_cases)
    tract = None if a.no_tract else tract_exe()
    fmt = lambda r: f"{r['median']:.2f} [{r['min']:.2f}-{r['max']:.2f}]" if "median" in r else "error"
    print(f"{a.runs} timed runs after 1 warm-up; latency ms median [min-max]; peak RSS MiB; load average "
          f"{os.getloadavg()[0]:.2f} at the start")
    print(f"tract: {tract or 'not found (set TRACT or put tract on PATH)'}; tract reports the mean of "
          "its loop (no spread) and runs on one thread (the crates.io build has no thread pool)")
    for threads in [int(t) for t in a.threads.split(",")]:
        print(f"\n## {threads} thread(s)")
        head = f"| case | smelt | onnxruntime | tract | smelt/ort | smelt/tract | RSS smelt | RSS ort | RSS tract |"
        if a.unfused:
            head = "| case | smelt unfused " + head[len("| case "):]
        if a.imported:
            head = "| case | smelt as imported " + head[len("| case "):]
        print(head)
        print("|" + "---|" * (head.count("|") - 1))
        for n in names:
            c = all_cases[n]
            k = run_smelt(c, threads, a.runs, package(c, n, True)) if a.imported else None
            u = run_smelt(c, threads, a.runs, package(c, n, False), fuse_ops=False) if a.unfused else None
            s = run_smelt(c, threads, a.runs, package(c, n, False))
            o = run_ort(c, threads, a.runs)
            t = run_tract(n, c, a.runs, tract) if tract else {}
            ratio = lambda x: f"{s['median'] / x['median']:.2f}" if "median" in x else "-"
            rss = lambda x: f"{x['peak_mib']:.1f}" if "peak_mib" in x else "-"
            row = f"| {n} | " + (f"{fmt(k)} | " if k else "") + (f"{fmt(u)} | " if u else "")
            row += (f"{fmt(s)} | {fmt(o)} | {fmt(t) if t else '-'} | {ratio(o)} | {ratio(t)} | "
                    f"{rss(s)} | {rss(o)} | {rss(t)} |")
            print(row, flush=True)
            if t and "error" in t:
                print(f"<!-- tract failed on {n}: {' / '.join(t['error'])} -->", flush=True)


if __name__ == "__main__":
    main()
