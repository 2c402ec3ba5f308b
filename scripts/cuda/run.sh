#!/bin/bash
# Runs on the GPU machine from .gpu/ the test group scripts/cuda/pack.sh packed (.gpu/group):
#   kernels      the kernel tests; with MEMCHECK=1 under compute-sanitizer memcheck instead
#   golden       the golden models on CUDA against the CPU (the models carried; others skip)
#   conformance  the ONNX conformance suites with --cuda and --cuda-only (CONF_MODES, a
#                list of those and `cpu`, `--via-ingot`, `--cuda-plan`, overrides them)
#   bench        bench/cuda_vs_pytorch.py (needs torch, torchvision, transformers there)
# Logs go to $OUT.
cd "$(dirname "$0")"
G=$PWD
GROUP=$(cat group)
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv
LP=""; for l in libcuda.so.1 libnvrtc.so.13 libcublas.so.13; do
  p=$(find / -xdev \( -path /proc -o -path /sys \) -prune -o -name "$l" -print 2>/dev/null | head -1)
  [ -n "$p" ] && LP="$LP:$(dirname "$p")"
done
export LD_LIBRARY_PATH="${LP#:}:${LD_LIBRARY_PATH:-}"
for f in bin/*.xz; do xz -d "$f" && chmod +x "${f%.xz}"; done
find cache -name '*.xz' ! -name '*.tar.xz' -exec xz -d {} +
echo "group: $GROUP"
case "$GROUP" in
kernels)
  if [ "${MEMCHECK:-0}" = 1 ]; then
    CS=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
    timeout 500 $CS --tool memcheck bin/kernels --test-threads=1 > $OUT/memcheck.txt 2>&1; echo "memcheck rc=$?"
    grep -E "ERROR SUMMARY|test result" $OUT/memcheck.txt
  else
    timeout 500 bin/kernels --nocapture --test-threads=1 > $OUT/kernels.txt 2>&1; echo "kernels rc=$?"
    grep -E "max abs|panicked|test result" $OUT/kernels.txt
  fi ;;
golden)
  export SMELT_ROOT=$(cd .. && pwd)   # the checkout, for the golden inputs and references
  SMELT_CACHE=$G/cache timeout 500 bin/golden_cuda --nocapture --test-threads=1 > $OUT/golden.txt 2>&1; echo "golden rc=$?"
  grep -E "nodes:|time:|max abs|gpu:|SKIP|FAIL|test result" $OUT/golden.txt | cut -c1-300 ;;
conformance)
  xz -dc cache/onnx-tests.tar.xz | tar -C cache -xf -
  for mode in ${CONF_MODES:---cuda --cuda-only}; do
    flag=$mode; [ "$mode" = cpu ] && flag=
    log=$OUT/conf_${mode#--}
    SMELT_CACHE=$G/cache timeout 280 bin/smelt-conformance -q $flag --write $log.md > $log.txt 2>&1
    echo "conformance $mode rc=$?: $(grep '^node:' $log.txt)"
  done ;;
bench)
  if [ -n "${SMELT_NO_BENCH:-}" ] || ! python3 -c "import torch, torchvision, transformers" 2>/dev/null; then
    echo "bench: skipped (SMELT_NO_BENCH, or torch, torchvision or transformers missing)"
  else
    timeout 500 python3 ../bench/cuda_vs_pytorch.py --smelt $G/bin/smelt > $OUT/bench.txt 2>&1; echo "bench rc=$?"
    grep -E "^\|" $OUT/bench.txt
  fi ;;
*) echo "run.sh: unknown group '$GROUP' in .gpu/group" >&2; exit 2 ;;
esac
