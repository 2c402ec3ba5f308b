#!/bin/bash
# Builds what one test group runs on the GPU machine (it has no Rust) and packs it into .gpu/
# (ignored: /.gpu/ is added to .git/info/exclude when missing), binaries stripped and
# xz-compressed. Then: the device tool's `run` with command `bash .gpu/run.sh` and carry
# [".gpu"]; run.sh runs the group packed.
#
# Usage: scripts/cuda/pack.sh [--no-build] GROUP [CASE ...]
#   kernels      the smelt-cuda kernel tests (run.sh runs them plain, or under
#                compute-sanitizer memcheck with MEMCHECK=1)
#   golden       the golden models on CUDA against the CPU (golden_cuda) and the models of the
#                golden CASEs named (tests/golden/cases.txt; default: ocr_det ocr_rec ocr_cls
#                opennsfw silero_vad silero_vad_op15, the inputs and references are tracked
#                files); a case whose model is not carried is skipped there
#   conformance  smelt-conformance and the ONNX backend test data (CPU, --cuda, --cuda-only)
#   bench        the smelt CLI, for bench/cuda_vs_pytorch.py (needs torch on the machine)
# --no-build: pack the binaries already built in target/ (the newest of each) without
# running cargo.
#
# The tree a call carries is limited to 64 MiB, the repository's tracked and untracked
# files that git does not ignore included. The script adds those to the pack and, when the
# total does not fit, says so, removes .gpu/ and exits 1.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
LIMIT=$((64 * 1024 * 1024))
BUILD=1
if [ "${1:-}" = --no-build ]; then BUILD=0; shift; fi
GROUP=${1:-}
shift || true
case "$GROUP" in
  kernels|golden|conformance|bench) ;;
  *) echo "usage: scripts/cuda/pack.sh [--no-build] kernels|golden|conformance|bench [CASE ...]" >&2; exit 2 ;;
esac
[ "$GROUP" = golden ] || [ $# -eq 0 ] || { echo "pack.sh: only the golden group takes cases" >&2; exit 2; }
C=${SMELT_CACHE:-.cache}

# The executable cargo builds for these arguments (the last one listed); with --no-build,
# the newest file of that name already in target/.
exe() {
  local name=$1; shift
  if [ $BUILD = 1 ]; then
    cargo "$@" --message-format=json-render-diagnostics | python3 -c '
import json, sys
for m in map(json.loads, sys.stdin):
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == sys.argv[1]:
        print(m["executable"])' "$name" | tail -1
  else
    ls -t target/release/$name target/debug/$name target/debug/deps/$name-* 2>/dev/null | grep -v '\.d$' | head -1 || true
  fi
}

# The bytes a call carries besides .gpu/: tracked and untracked-not-ignored files, and shared/.
tree_bytes() {
  { git ls-files -z --cached --others --exclude-standard -- . ':!shared' \
      | xargs -0 -r stat -c %s -- 2>/dev/null || true; } | awk '{ s += $1 } END { print s + 0 }'
  if [ -d shared ]; then du -sb shared | cut -f1; fi
}

if ! git check-ignore -q .gpu/x; then
  mkdir -p "$(dirname "$(git rev-parse --git-path info/exclude)")"
  echo /.gpu/ >> "$(git rev-parse --git-path info/exclude)"
fi
rm -rf .gpu
trap '[ $? = 0 ] || rm -rf .gpu' EXIT   # no half-made pack
mkdir -p .gpu/bin .gpu/cache
echo "$GROUP" > .gpu/group
pack_bin() { # PATH NAME
  [ -n "$1" ] && [ -f "$1" ] || { echo "pack.sh: no binary for $2 (build it, or drop --no-build)" >&2; exit 1; }
  cp "$1" "/tmp/$2.$$" && strip "/tmp/$2.$$" && xz -T0 -6 -c "/tmp/$2.$$" > ".gpu/bin/$2.xz"
  rm -f "/tmp/$2.$$"
}
# A file of a fetch.py package, xz-compressed under .gpu/cache/ (run.sh expands it).
pack_model() { # PACKAGE PATH
  [ -f "$C/$1/$2" ] || python3 scripts/fetch.py "$1" > /dev/null
  mkdir -p ".gpu/cache/$1/$(dirname "$2")"
  xz -T0 -6 -c "$C/$1/$2" > ".gpu/cache/$1/$2.xz"
}

case "$GROUP" in
  kernels)
    pack_bin "$(exe kernels test -p smelt-cuda --test kernels --no-run)" kernels ;;
  golden)
    pack_bin "$(exe golden_cuda test -p smelt --test golden_cuda --no-run)" golden_cuda
    [ $# -gt 0 ] || set -- ocr_det ocr_rec ocr_cls opennsfw silero_vad silero_vad_op15
    for case in "$@"; do
      line=$(awk -v want="$case" '
        /^\[/ { name = substr($0, 2, length($0) - 2); pkg = ""; next }
        name == want && $1 == "package" { pkg = $3 }
        name == want && $1 == "model" { print pkg, $3 }' tests/golden/cases.txt)
      [ -n "$line" ] || { echo "pack.sh: no golden case '$case' in tests/golden/cases.txt" >&2; exit 2; }
      read -r pkg model <<< "$line"
      [ "$pkg" = - ] || pack_model "$pkg" "$model"   # '-': the model is a tracked file
    done ;;
  conformance)
    pack_bin "$(exe smelt-conformance build --release -p smelt-conformance)" smelt-conformance
    python3 scripts/fetch.py onnx-tests > /dev/null   # complete, its stamp current
    tar -C "$C" -cf - onnx-tests | xz -T0 -6 > .gpu/cache/onnx-tests.tar.xz ;;
  bench)
    pack_bin "$(exe smelt build --release -p smelt-cli)" smelt ;;
esac
cp scripts/cuda/run.sh .gpu/run.sh

pack=$(find .gpu -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
tree=$(tree_bytes | awk '{ s += $1 } END { print s + 0 }')
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
echo "pack $GROUP: .gpu/ $(mib $pack) + the repository's files $(mib $tree) = $(mib $((pack + tree))) of 64 MiB"
find .gpu -type f -printf '%s %p\n' | sort -rn | awk '{ printf "  %8.1f MiB  %s\n", $1 / 1048576, $2 }'
if [ $((pack + tree)) -gt $LIMIT ]; then
  echo "pack.sh: $GROUP does not fit the 64 MiB a call carries (over by $(mib $((pack + tree - LIMIT)))); no .gpu/ made. Carry less (golden: name fewer cases)." >&2
  exit 1
fi
