#!/bin/bash
# Runs on the GPU machine from .gpu/ (see pack.sh): the kernel tests (also under
# compute-sanitizer memcheck), the golden models on CUDA against the CPU, and the ONNX
# conformance suites on the CPU, with --cuda and with --cuda-only. Logs go to $OUT.
cd "$(dirname "$0")"
G=$PWD
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv
LP=""; for l in libcuda.so.1 libnvrtc.so.13 libcublas.so.13; do
  p=$(find / -xdev \( -path /proc -o -path /sys \) -prune -o -name "$l" -print 2>/dev/null | head -1)
  [ -n "$p" ] && LP="$LP:$(dirname "$p")"
done
export LD_LIBRARY_PATH="${LP#:}:${LD_LIBRARY_PATH:-}"
for f in kernels golden_cuda smelt-conformance smelt; do xz -dc $f.xz > $f && chmod +x $f; done
xz -dc onnx-tests.tar.xz | tar -C cache -xf -
export SMELT_ROOT=$(cd .. && pwd)   # the checkout, for the golden test's data
# PART=1: kernel tests, golden models, conformance; PART=2: memcheck and the bench; unset: all
if [ "${PART:-1}" = 1 ] || [ -z "${PART:-}" ]; then
timeout 300 ./kernels --nocapture --test-threads=1 > $OUT/kernels.txt 2>&1; echo "kernels rc=$?"
grep -E "max abs|panicked|test result" $OUT/kernels.txt
fi
if [ "${PART:-2}" = 2 ]; then
CS=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
timeout 300 $CS --tool memcheck ./kernels --test-threads=1 > $OUT/memcheck.txt 2>&1; echo "memcheck rc=$?"
grep -E "ERROR SUMMARY|test result" $OUT/memcheck.txt
fi
if [ "${PART:-1}" = 1 ]; then
SMELT_CACHE=$G/cache timeout 400 ./golden_cuda --nocapture --test-threads=1 > $OUT/golden.txt 2>&1; echo "golden rc=$?"
grep -E "nodes:|time:|max abs|gpu:|FAIL|test result" $OUT/golden.txt | cut -c1-300
for mode in ${CONF_MODES:---cuda --cuda-only}; do
  SMELT_CACHE=$G/cache timeout 300 ./smelt-conformance -q $mode --write $OUT/conf${mode:-_cpu}.md > $OUT/conf${mode:-_cpu}.txt 2>&1
  echo "conformance ${mode:-cpu} rc=$?: $(grep '^node:' $OUT/conf${mode:-_cpu}.txt)"
done
fi
# the PyTorch comparison (needs torch, torchvision, transformers on the machine); skipped
# with SMELT_NO_BENCH=1
if [ "${PART:-2}" = 2 ] && [ -z "${SMELT_NO_BENCH:-}" ] && python3 -c "import torch, torchvision, transformers" 2>/dev/null; then
  timeout 400 python3 ../bench/cuda_vs_pytorch.py --smelt $G/smelt > $OUT/bench.txt 2>&1; echo "bench rc=$?"
  grep -E "^\|" $OUT/bench.txt
fi
