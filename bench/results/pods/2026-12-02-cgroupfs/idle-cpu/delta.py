#!/usr/bin/env python3
"""CPU each host process used between two probe reports (footprint JSON
read through the API server's proxy about 60 s apart), for the processes
present in both, per minute of the window between the reports. The
window is the machine's CPU time of every kind (idle included) divided
by its 2 vCPUs: under load the reads themselves took long, so the
time between them is not the 60 s slept. python3 delta.py BEFORE.json
AFTER.json"""
import json
import sys

before, after = (json.load(open(p)) for p in sys.argv[1:3])
a = {p["pid"]: p for p in before["processes"]}
window = sum(after["cpu"][k] - before["cpu"][k] for k in after["cpu"]) / 100 / 2
per_min = 60 / window
print(f"window: {window:.1f} s")
rows = sorted(((p["cpu_ticks"] - a[pid]["cpu_ticks"], pid, p["name"])
               for pid, p in ((p["pid"], p) for p in after["processes"]) if pid in a), reverse=True)
for ticks, pid, name in rows[:5]:
    print(f"{name:20s} pid {pid:6d}: {ticks / 100 * per_min:6.2f} s a minute")
shims = sorted(t for t, _, n in rows if n == "containerd-shim")
print(f"shims present in both: {len(shims)}, CPU each a minute: min {shims[0] / 100 * per_min:.2f} s, "
      f"median {shims[len(shims) // 2] / 100 * per_min:.2f} s, max {shims[-1] / 100 * per_min:.2f} s, "
      f"all {sum(shims) / 100 * per_min:.1f} s")
print("host mounts:", after["host_mounts"])
print("machine CPU by kind, s a minute:", {k: round((after["cpu"][k] - before["cpu"][k]) / 100 * per_min, 1) for k in after["cpu"]})
