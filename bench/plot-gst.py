#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Draws rs-bench-gst-pool's JSON: how many times faster RsGstSessionPool is
than the stock GstRTSPSessionPool (stock ÷ ours) against pool size, with the
targets at 1M sessions, and next to it the find latency during expiry."""
import json
import sys
from collections import defaultdict

# The ratios drawn; find p99 is drawn as a latency, for its target is one.
RATIOS = [
    "cleanup, nothing due", "cleanup, 1% due", "watch iteration, nothing due", "find max during expiry",
]
LATENCIES = ["find p99 during expiry", "find p99 during expiry, paced clients", "find max during expiry"]


def main(json_path, png_path):
    try:
        import matplotlib
    except ImportError:
        print("plot-gst.py: matplotlib is not installed (Debian: python3-matplotlib); no plot drawn",
              file=sys.stderr)
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(json_path) as f:
        bench = json.load(f)
    series = defaultdict(lambda: {"n": [], "stock": [], "ours": [], "ratio": [], "unit": ""})
    for row in bench["results"]:
        s = series[row["metric"]]
        s["unit"] = row["unit"]
        s["n"].append(row["sessions"])
        for key in ("stock", "ours", "ratio"):
            s[key].append(max(row[key], 1e-3))  # log axes
    targets = {t["metric"]: t for t in bench.get("targets", [])}

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for metric in (m for m in RATIOS if m in series):
        s = series[metric]
        line, = left.loglog(s["n"], s["ratio"], "o-", label=metric)
        target = targets.get(metric, {})
        if "min_ratio" in target:
            left.plot([target["sessions"]], [target["min_ratio"]], "_", markersize=22, mew=2,
                      color=line.get_color())
    left.axhline(1, color="grey", lw=0.8)
    left.set_title("stock ÷ ours (higher is better; bars: targets)", fontsize=10)
    left.set_xlabel("sessions in pool")
    left.set_ylabel("times faster")
    left.grid(True, which="both", alpha=0.3)
    left.legend(fontsize=8)

    for metric, style, name in zip(LATENCIES, ("o-", "^:", "s--"), ("p99", "p99 paced", "max")):
        if metric not in series:
            continue
        s = series[metric]
        right.loglog(s["n"], s["stock"], style, color="tab:red", label=f"{name}, stock")
        right.loglog(s["n"], s["ours"], style, color="tab:blue", label=f"{name}, ours")
        target = targets.get(metric, {})
        if "ours_max" in target:
            right.plot([target["sessions"]], [target["ours_max"]], "v", color="tab:blue",
                       label=f"target: ours {name} <= {target['ours_max']:g} {target['unit']}")
    right.set_title("find latency while expiry runs (lower is better)", fontsize=10)
    right.set_xlabel("sessions in pool")
    right.set_ylabel("us")
    right.grid(True, which="both", alpha=0.3)
    right.legend(fontsize=7)

    fig.suptitle(f"{bench['ours']} against {bench['stock']} (cleanup and watch: median of {bench['runs']} runs)")
    fig.tight_layout()
    fig.savefig(png_path, dpi=90)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
