#!/usr/bin/env python3
"""smelt on CUDA against PyTorch, on the GPU machine, in one call.

Exports torchvision ResNet-50 and a BERT-base (random weights, seq 128) to ONNX with fixed
batch sizes, then times on the same inputs:
  - PyTorch eager and PyTorch replaying a captured CUDA graph (fp32 and fp16), with CUDA
    events after warm-up;
  - smelt (`smelt run --compute-units all --repeat N`), fp32 only so far: its median is the
    wall-clock time of a whole prediction (input upload, kernels, output download), so it
    is an upper bound on device time.
Prints a markdown table and checks smelt's output against PyTorch fp32.

Usage (on the GPU machine): python3 bench/cuda_vs_pytorch.py --smelt PATH [--batches 1 32]
"""
import argparse, os, re, subprocess, sys, tempfile
import numpy as np
import torch


def cuda_time(fn, iters=50, warmup=10):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    ts = []
    for _ in range(iters):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        torch.cuda.synchronize()
        ts.append(a.elapsed_time(b))
    ts.sort()
    return ts[len(ts) // 2], ts[0], ts[-1]


def graph_time(model, inputs):
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s), torch.no_grad():
        for _ in range(3):
            model(*inputs)
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g), torch.no_grad():
        model(*inputs)
    return cuda_time(g.replay)


def smelt_time(smelt, onnx_path, npys, runs):
    args = [smelt, "run", onnx_path, "--compute-units", "all", "--repeat", str(runs), "-o", os.path.dirname(onnx_path) + "/out"]
    for n, p in npys:
        args += ["--input", f"{n}={p}"]
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode:
        return None, r.stderr.strip().splitlines()[-1]
    m = re.search(r"median ([\d.]+) ms, min ([\d.]+) ms, max ([\d.]+) ms", r.stdout)
    return (float(m.group(1)), float(m.group(2)), float(m.group(3))), r.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smelt", required=True)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    ap.add_argument("--runs", type=int, default=30)
    a = ap.parse_args()
    import torchvision
    from transformers import BertConfig, BertModel
    torch.manual_seed(0)
    dev = torch.device("cuda")
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}\n")
    tmp = tempfile.mkdtemp()
    rows = []
    class Bert(torch.nn.Module):
        """BERT-base returning its last hidden state, called with (input_ids, attention_mask)."""

        def __init__(self):
            super().__init__()
            self.m = BertModel(BertConfig(), add_pooling_layer=False)

        def forward(self, input_ids, attention_mask):
            return self.m(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    models = {
        "ResNet-50": torchvision.models.resnet50().eval(),
        "BERT-base s128": Bert().eval(),
    }
    for name, model in models.items():
        for b in a.batches:
            if name.startswith("ResNet"):
                ins = [torch.randn(b, 3, 224, 224)]
                names = ["x"]
            else:
                ids = torch.randint(0, 30522, (b, 128))
                ins = [ids, torch.ones(b, 128, dtype=torch.int64)]
                names = ["input_ids", "attention_mask"]
            path = os.path.join(tmp, f"{name.split()[0]}_{b}.onnx")
            try:
                with torch.no_grad():
                    torch.onnx.export(model, tuple(ins), path, input_names=names, output_names=["y"],
                                      opset_version=17, dynamo=False)
            except Exception as e:  # noqa: BLE001 - report and go on with the next model
                print(f"{name} batch {b}: export failed: {e}")
                continue
            npys = []
            for n, t in zip(names, ins):
                p = os.path.join(tmp, f"{n}_{b}.npy")
                np.save(p, t.numpy())
                npys.append((n, p))
            m = model.to(dev)
            gin = [t.to(dev) for t in ins]
            with torch.no_grad():
                ref = m(*gin)
                ref = (ref if torch.is_tensor(ref) else ref[0]).float().cpu().numpy()
                res = {"eager fp32": cuda_time(lambda: m(*gin)), "graph fp32": graph_time(m, gin)}
                mh = m.half() if name.startswith("ResNet") else m.half()
                hin = [t.half() if t.is_floating_point() else t for t in gin]
                res["eager fp16"] = cuda_time(lambda: mh(*hin))
                res["graph fp16"] = graph_time(mh, hin)
            m.float().cpu()
            st, log = smelt_time(a.smelt, path, npys, a.runs)
            err = "-"
            if st is not None:
                for f in sorted(os.listdir(os.path.join(tmp, "out"))):
                    got = np.load(os.path.join(tmp, "out", f))
                    if got.shape == ref.shape:
                        err = f"{np.abs(got - ref).max():.2e}"
                        break
                for f in os.listdir(os.path.join(tmp, "out")):
                    os.remove(os.path.join(tmp, "out", f))
            rows.append((name, b, res, st, err, log if st is None else ""))
            torch.cuda.empty_cache()
    print("| model | batch | torch eager fp32 | torch graph fp32 | torch eager fp16 | torch graph fp16 | smelt fp32 (wall, median [min-max]) | smelt max abs diff vs torch fp32 |")
    print("|---|---|---|---|---|---|---|---|")
    f = lambda t: f"{t[0]:.3f} ms"
    for name, b, res, st, err, why in rows:
        s = f"{st[0]:.3f} ms [{st[1]:.3f}-{st[2]:.3f}]" if st else f"failed: {why}"
        print(f"| {name} | {b} | {f(res['eager fp32'])} | {f(res['graph fp32'])} | {f(res['eager fp16'])} | {f(res['graph fp16'])} | {s} | {err} |")


if __name__ == "__main__":
    main()
