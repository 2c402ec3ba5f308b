#!/bin/bash
# Per-kernel GPU time of one fp16 inference, smelt against PyTorch, on the GPU machine:
# Nsight Compute records each kernel's duration (one metric, the boost clock, warm caches)
# over a few runs; the last run's kernels are summed by name (bench/ncu_last_run.py).
# Exports BERT-base (s128) and torchvision ResNet-50 at batch 32 with random weights, as
# bench/cuda_vs_pytorch.py does.
#   bash bench/cuda_kernels_ncu.sh SMELT_BINARY [b32] [r32]
# Needs ncu (CUDA toolkit), torch, torchvision and transformers; LD_LIBRARY_PATH must find
# libnvrtc and libcublas for smelt. Writes the raw CSVs to $OUT (default /tmp/out).
set -uo pipefail
SMELT=$(realpath "$1"); shift
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
NCU=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
NCU="$NCU --metrics gpu__time_duration.sum --csv --print-units base --clock-control none --cache-control none"
W=$(mktemp -d)
cat > "$W/model.py" <<'PY'
# model.py NAME [export]: export NAME (b32: BERT-base, r32: ResNet-50) to $W, or run it 3x at fp16
import os, sys, numpy as np, torch, torchvision
from transformers import BertConfig, BertModel
torch.manual_seed(0)
class Bert(torch.nn.Module):
    def __init__(s): super().__init__(); s.m = BertModel(BertConfig(), add_pooling_layer=False)
    def forward(s, i, a): return s.m(input_ids=i, attention_mask=a).last_hidden_state
m, w = sys.argv[1], os.environ["W"]
if m == "b32":
    ids = torch.randint(0, 30522, (32, 128)); am = torch.ones(32, 128, dtype=torch.int64)
    net, ins, names = Bert().eval(), (ids, am), ["input_ids", "attention_mask"]
else:
    net, ins, names = torchvision.models.resnet50().eval(), (torch.randn(32, 3, 224, 224),), ["x"]
if len(sys.argv) > 2:
    for n, t in zip(names, ins): np.save(f"{w}/{m}_{n}.npy", t.numpy())
    torch.onnx.export(net, ins, f"{w}/{m}.onnx", input_names=names, opset_version=17, dynamo=False)
    sys.exit()
net = net.half().cuda(); ins = [t.cuda().half() if t.is_floating_point() else t.cuda() for t in ins]
with torch.no_grad():
    for _ in range(3): net(*ins)
torch.cuda.synchronize()
PY
export W
# ncu resolves the python symlink, losing a virtual environment: name its packages
PYPATH=$(python3 -c "import site; print(site.getsitepackages()[0])")
for m in ${@:-b32 r32}; do
  timeout 300 python3 "$W/model.py" $m export > "$OUT/export_$m.log" 2>&1 || { echo "export of $m failed"; continue; }
  case $m in
    b*) IN="--input input_ids=$W/${m}_input_ids.npy --input attention_mask=$W/${m}_attention_mask.npy";;
    *) IN="--input x=$W/${m}_x.npy";;
  esac
  SMELT_NO_CUDA_GRAPH=1 timeout 300 $NCU "$SMELT" run "$W/$m.onnx" $IN --compute-units all \
      --precision fp16 --repeat 3 --no-save 2>"$OUT/ncu_smelt_$m.err" > "$OUT/ncu_smelt_$m.csv"
  PYTHONPATH=$PYPATH timeout 300 $NCU python3 "$W/model.py" $m \
      2>"$OUT/ncu_torch_$m.err" > "$OUT/ncu_torch_$m.csv"
  for who in smelt torch; do
    echo "=== $who $m fp16"
    python3 "$HERE/ncu_last_run.py" "$OUT/ncu_${who}_$m.csv"
  done
done
rm -rf "$W"
