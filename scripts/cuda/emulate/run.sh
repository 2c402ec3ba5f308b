#!/bin/bash
# Runs the generated fused-attention kernel on the CPU: renders its variants (the render
# test with SMELT_DUMP_ATTENTION set), turns each into C++ (prep.py), builds it with the
# CUDA stubs of emu.h (a std::thread per CUDA thread, barriers for __syncthreads and the
# warp shuffles) and compares every case with a double-precision reference (harness.cpp).
# Needs g++ with C++20 and _Float16; no GPU, no CUDA toolkit. Extra g++ flags in $1
# (e.g. "-fsanitize=thread"). The harness builds the mask as a strided leaf and the three
# scalars as scalar leaves; shapes where planning reads the mask otherwise (h = sq = 1) are
# not among the cases.
set -euo pipefail
cd "$(dirname "$0")"
HERE=$PWD
W=${EMU_DIR:-$(mktemp -d)}
mkdir -p "$W/kern"
(cd ../../.. && SMELT_DUMP_ATTENTION="$W/kern" cargo test -q -p smelt-cuda --lib \
    renders_and_compiles_a_bert_attention >/dev/null)
# variant -> cases "b,h,sq,layout,mask" (layout 1: dense q/v/out, k stored [b,h,d,skv];
# mask 1: a per-row mask [b,1,sq,skv] with one row fully masked, mask 2: a per-row mask
# [b,1,sq,1] broadcast over the keys, one row fully masked; batch 1 fully masked)
declare -A CASES=(
  [d64_dv64_n128_f32in]="2,3,128,0,0 2,3,128,1,1 2,3,77,0,0 1,2,16,0,0"
  [d64_dv64_n128_f16in]="2,3,128,0,0 2,3,128,1,1 2,3,77,0,1"
  [d64_dv64_n128_bf16mix]="2,3,128,0,0 2,3,77,1,1"
  [d40_dv40_n77_f32in]="2,3,77,0,0 2,3,77,1,1 2,2,5,0,0"
  [d40_dv40_n77_f16in]="2,3,77,0,0 2,3,77,1,1"
  [d32_dv32_n300_f32in]="2,3,50,0,0 2,2,300,1,1"
  [d32_dv32_n300_f16in]="2,3,50,0,0 2,2,300,1,1"
  [d48_dv80_n100_mix]="2,3,100,0,0 2,3,33,1,1"
  [d80_dv24_n33_f32in]="2,3,33,0,0 2,3,17,1,1"
  [d64_dv96_n128_f16in]="2,3,128,0,0 2,3,45,1,1"
)
fail=0
# each variant also on tensor cores: _tcs with every case, _tc (16-byte loads of q, k
# and v, contiguous rows, column pairs stored) with the layout-0 cases; the mask's key
# stride is compiled in: 1 there, 0 in _tcb (as _tc, mask 2: [b,1,sq,1]); _tc4: _tc at
# four warps
for v in "${!CASES[@]}"; do
  CASES[${v}_tcs]=${CASES[$v]}
  CASES[${v}_tc]=$(for c in ${CASES[$v]}; do if [[ $c == *,*,*,0,* ]]; then echo -n "$c "; fi; done)
done
CASES[d40_dv40_n77_f16in_tcb]="2,3,77,0,2 2,2,5,0,2"
CASES[d32_dv32_n300_f16in_tcb]="2,3,50,0,2 2,2,300,0,2"
CASES[d64_dv64_n128_f16in_tc4]="2,3,128,0,0 2,3,77,0,1"
for v in "${!CASES[@]}"; do
  d="$W/build/$v"
  python3 prep.py "$W/kern/$v.cu" "$d" >/dev/null
  g++ -std=c++20 -O1 -pthread -Wall -Wno-unknown-pragmas -Wno-unused-variable -fno-strict-aliasing ${1:-} \
      -I "$d" -I "$HERE" harness.cpp -o "$d/h"
  for c in ${CASES[$v]}; do
    IFS=, read -r b h sq lay mk <<<"$c"
    if out=$("$d/h" "$b" "$h" "$sq" "$lay" "$mk" 7 2>&1); then rc=0; else rc=$?; fi
    echo "[$v b$b h$h sq$sq layout$lay mask$mk rc=$rc] $(echo "$out" | grep -v '^FIdx' | tr '\n' ' ' | cut -c1-300)"
    [ "$rc" -ne 0 ] && fail=1
  done
done
echo "emulated fused attention: $([ $fail = 0 ] && echo 'all cases match' || echo FAILURES)"
exit $fail
