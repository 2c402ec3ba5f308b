"""Sums an Nsight Compute CSV (one metric: gpu__time_duration.sum) over the last of several
identical runs, by kernel name. The run length is the longest tail that repeats just
before itself (a model's layers repeat too, so the longest, not the shortest).
Usage: ncu_last_run.py FILE.csv   (TOP=n rows, default 18)"""
import collections, csv, os, sys

rows = [r for r in csv.reader(open(sys.argv[1])) if len(r) > 10]
if not rows:
    sys.exit(f"{sys.argv[1]}: no kernel rows (see the .err file beside it)")
head, rows = rows[0], rows[1:]
ki, vi = head.index("Kernel Name"), head.index("Metric Value")
names = [r[ki] for r in rows]
ns = [float(r[vi].replace(",", "")) for r in rows]
n = len(names)
c = next((c for c in range(n // 2, 0, -1) if names[n - c:] == names[n - 2 * c:n - c]), n)
total = collections.defaultdict(lambda: [0.0, 0])
for k, v in zip(names[n - c:], ns[n - c:]):
    total[k[:100]][0] += v
    total[k[:100]][1] += 1
print(f"last run: {c} kernels, {sum(v[0] for v in total.values()) / 1e3:.1f} us summed")
for k, (s, m) in sorted(total.items(), key=lambda x: -x[1][0])[: int(os.environ.get("TOP", "18"))]:
    print(f"{s / 1e3:9.1f} us {m:4d}x avg {s / m / 1e3:7.2f}  {k}")
