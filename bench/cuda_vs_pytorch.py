#!/usr/bin/env python3
"""smelt on CUDA against PyTorch, on the GPU machine, in one call.

Exports torchvision ResNet-50 and a BERT-base (random weights, seq 128) to ONNX with fixed
batch sizes, then times on the same inputs:
  - PyTorch eager and PyTorch replaying a captured CUDA graph (fp32 and fp16), with CUDA
    events after warm-up;
  - smelt (`smelt run --compute-units all --repeat N --precision P`) at fp32 and fp16
    (fp16 GEMM/conv operands with fp32 accumulation, other ops fp32): three medians, the
    wall-clock time of a whole prediction (input upload, kernels, output download), the
    device time from smelt's CUDA events (recorded on the stream after the input uploads
    and after the output downloads: kernels, graph replay and the output download, not the
    input upload), and the compute time (the same start, to the outputs computed before
    their download: what torch's events time, its outputs staying on the device). smelt
    replays a CUDA graph after its third run when the model allows it.
Prints a markdown table and checks smelt's outputs against PyTorch fp32.

PyTorch's "fp32" convolutions run in TF32 by default (cuDNN's allow_tf32, printed first);
smelt's fp32 is strict fp32 everywhere, its tf32 is the like-for-like column.

Usage (on the GPU machine): python3 bench/cuda_vs_pytorch.py --smelt PATH [--batches 1 32]
  [--precisions fp32 tf32 fp16] [--models resnet bert] [--profile]
  (--profile: also prints smelt's profile per op type, node and launch)
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


def smelt_time(smelt, onnx_path, npys, runs, precision, extra=(), env=None):
    """(wall, device, compute), each (median, min, max) (device and compute None without a
    GPU), stdout; or None, why."""
    args = [smelt, "run", onnx_path, "--compute-units", "all", "--repeat", str(runs),
            "--precision", precision, "-o", os.path.dirname(onnx_path) + "/out", *extra]
    for n, p in npys:
        args += ["--input", f"{n}={p}"]
    r = subprocess.run(args, capture_output=True, text=True, env=env)
    if r.returncode:
        return None, (r.stderr.strip().splitlines() or ["no output"])[-1]
    m = re.search(r"latency over \d+ runs: median ([\d.]+) ms, min ([\d.]+) ms, max ([\d.]+) ms", r.stdout)
    d = re.search(r"device time over \d+ runs: median ([\d.]+) ms, min ([\d.]+) ms, max ([\d.]+) ms", r.stdout)
    c = re.search(r"compute time over \d+ runs: median ([\d.]+) ms, min ([\d.]+) ms, max ([\d.]+) ms", r.stdout)
    wall = tuple(float(m.group(i)) for i in (1, 2, 3))
    dev = tuple(float(d.group(i)) for i in (1, 2, 3)) if d else None
    comp = tuple(float(c.group(i)) for i in (1, 2, 3)) if c else None
    return (wall, dev, comp), r.stdout


def max_diff(out_dir, ref):
    """Largest |smelt - torch| over the saved output of torch's shape; removes the files."""
    err = "-"
    for f in sorted(os.listdir(out_dir)):
        got = np.load(os.path.join(out_dir, f))
        if err == "-" and got.shape == ref.shape:
            err = f"{np.abs(got - ref).max():.2e}"
    for f in os.listdir(out_dir):
        os.remove(os.path.join(out_dir, f))
    return err


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smelt", required=True)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--precisions", nargs="+", default=["fp32", "tf32", "fp16"])
    ap.add_argument("--models", nargs="+", default=["resnet", "bert"])
    ap.add_argument("--profile", action="store_true")
    a = ap.parse_args()
    import torchvision
    from transformers import BertConfig, BertModel
    torch.manual_seed(0)
    dev = torch.device("cuda")
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}; torch fp32 uses TF32 in"
          f" cuDNN convs: {torch.backends.cudnn.allow_tf32}, in matmuls:"
          f" {torch.backends.cuda.matmul.allow_tf32}\n")
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
        if name.split("-")[0].lower() not in a.models:
            continue
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
            smelt = {}
            for prec in a.precisions:
                st, log = smelt_time(a.smelt, path, npys, a.runs, prec)
                err = max_diff(os.path.join(tmp, "out"), ref) if st is not None else "-"
                smelt[prec] = (st, err, log if st is None else "")
                if st is not None:
                    gr = re.search(r"cuda graphs: (\d+) captured, (\d+) replays", log)
                    smelt[prec] = (st, err, f"{gr.group(2)} graph replays" if gr else "")
                if a.profile and st is not None:
                    _, plog = smelt_time(a.smelt, path, npys, 5, prec, ["--profile", "--no-save"],
                                         env={**os.environ, "SMELT_PROFILE": "kernels"})
                    print(f"--- smelt profile: {name} batch {b} {prec} ---")
                    print("\n".join(l for l in plog.splitlines() if not l.startswith(("input ", "output ", "       ->"))))
            rows.append((name, b, res, smelt))
            torch.cuda.empty_cache()
    head = "| model | batch | torch eager fp32 | torch graph fp32 | torch eager fp16 | torch graph fp16 |"
    line = "|---|---|---|---|---|---|"
    for prec in a.precisions:
        head += (f" smelt {prec} wall | smelt {prec} device | smelt {prec} compute |"
                 f" smelt {prec} max abs diff vs torch fp32 |")
        line += "---|---|---|---|"
    print("\nwall: median [min-max] of whole predictions; device: smelt's CUDA events from after the"
          " input uploads to after the output downloads; compute: to the outputs computed, before"
          " their downloads (torch's timings leave the outputs on the device); median [min-max]")
    print(head)
    print(line)
    f = lambda t: f"{t[0]:.3f} ms"
    g = lambda t: f"{t[0]:.3f} ms [{t[1]:.3f}-{t[2]:.3f}]" if t else "-"
    for name, b, res, smelt in rows:
        cells = f"| {name} | {b} | {f(res['eager fp32'])} | {f(res['graph fp32'])} | {f(res['eager fp16'])} | {f(res['graph fp16'])} |"
        for prec in a.precisions:
            st, err, why = smelt[prec]  # why: the failure, or the graph replay count
            if st is None:
                cells += f" failed: {why} | - | - | - |"
            else:
                cells += f" {g(st[0])} | {g(st[1])} {why} | {g(st[2])} | {err} |"
        print(cells)


if __name__ == "__main__":
    main()
